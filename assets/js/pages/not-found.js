// Any path that is not a page.

import { h, replace } from "../dom.js";

export const title = "Page not found";

export function render(root) {
  replace(
    root,
    h("p", {}, "There is no page at this address. Check the link, or start again from the start page."),
    h("p", {}, h("a", { href: "/" }, "Go to the start page")),
  );
}
