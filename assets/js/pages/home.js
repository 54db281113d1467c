// The start page: what Gatehouse is, and where to go next.

import { h, replace } from "../dom.js";
import { isAdmin } from "../session.js";

export const title = "Gatehouse";

export function render(root, { who }) {
  if (who) {
    replace(
      root,
      h("p", { class: "lead" }, `Welcome back, ${who.user.display_name}.`),
      h(
        "ul",
        { class: "link-list" },
        h("li", {}, h("a", { href: "/account" }, "Your account"), ": profile, password and where you are signed in."),
        isAdmin(who)
          ? h("li", {}, h("a", { href: "/admin" }, "Campus administration"), ": campuses and their email domains.")
          : null,
      ),
    );
    return;
  }
  replace(
    root,
    h("p", { class: "lead" }, "One account for your campus: sign in to campus apps with your campus email."),
    h(
      "div",
      { class: "button-row" },
      h("a", { class: "button", href: "/sign-in" }, "Sign in"),
      h("a", { class: "button secondary", href: "/sign-up" }, "Create an account"),
    ),
    h("p", {}, h("a", { href: "/forgot-password" }, "Forgotten your password?")),
  );
}
