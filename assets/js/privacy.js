// The privacy policy in other pages: the current version (or null when none is published),
// and the prompt shown when a new version awaits the user's acceptance.

import { api } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { busyClick } from "./forms.js";

/** The current policy {version, text, published_at}, or null when none is published. */
export async function currentPolicy() {
  const policy = await api("GET", "/api/v1/policies/current");
  return policy?.published ? policy : null;
}

/**
 * A panel asking the user to accept `version` of the policy; `onAccepted` runs once the API
 * recorded the acceptance.
 */
export function policyPrompt(version, onAccepted) {
  const result = h("div", { role: "status", class: "form-result" });
  const heading = h("h2", { id: "policy-prompt-heading", tabindex: "-1" }, "Our privacy policy has changed");
  const button = h("button", { type: "button", class: "button" }, "Accept and continue");
  const element = h(
    "section",
    { class: "panel policy-prompt", "aria-labelledby": "policy-prompt-heading" },
    heading,
    h(
      "p",
      {},
      "Please read the new privacy policy (version ",
      h("strong", {}, version),
      ") and accept it to go on using Gatehouse. ",
      h("a", { href: "/privacy-policy", target: "_blank", rel: "noopener" }, "Read the privacy policy (opens in a new tab)"),
      ".",
    ),
    h("div", { class: "button-row" }, button),
    result,
  );
  busyClick(
    button,
    async () => {
      replace(result);
      await api("POST", "/api/v1/account/policy-acceptance", { version });
      await onAccepted();
    },
    (error) => replace(result, h("div", { role: "alert" }, notice("error", h("p", {}, error.message)))),
  );
  return { element, focus: () => heading.focus() };
}
