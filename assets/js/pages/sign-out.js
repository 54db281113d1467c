// An app asked Gatehouse to sign the student out (RP-initiated logout) without proving who it
// signed in: ask first, so that a link alone signs nobody out.

import { h, notice, replace } from "../dom.js";
import { busyClick } from "../forms.js";
import { signOut } from "../session.js";

export const title = "Sign out?";

export function render(root, { who }) {
  const back = `/oauth/logout${window.location.search}`;
  if (!who) {
    window.location.assign(back);
    return;
  }
  const status = h("div", { role: "status" });
  const yes = busyClick(
    h("button", { type: "button", class: "button" }, "Sign out"),
    async () => {
      await signOut();
      window.location.assign(back);
    },
    (error) => replace(status, notice("error", h("p", {}, error.message))),
  );
  const no = h("a", { class: "button secondary", href: "/account" }, "Stay signed in");
  replace(
    root,
    h("p", {}, "An app asked to sign you out of Gatehouse. Signing out ends your Gatehouse session here and in the apps you signed in to with it."),
    status,
    h("div", { class: "button-row" }, yes, no),
  );
}
