// Pages whose API has not landed yet (driver verification).

import { h, replace } from "../dom.js";

export const title = "Not available yet";

const WHAT = {
  "/driver": ["Driver verification", "Driver verification"],
};

export function render(root, { path, setTitle }) {
  const [heading, what] = WHAT[path] ?? ["Not available yet", "This page"];
  setTitle(heading);
  replace(
    root,
    h("p", {}, `${what} is not available on this Gatehouse yet.`),
    h("p", {}, h("a", { href: "/" }, "Back to the start page")),
  );
}
