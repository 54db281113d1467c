// The current privacy policy, as published by campus IT.

import { formatDate, h, notice, replace } from "../dom.js";
import { currentPolicy } from "../privacy.js";

export const title = "Privacy policy";

export async function render(root) {
  let policy;
  try {
    policy = await currentPolicy();
  } catch (error) {
    replace(root, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
    return;
  }
  if (!policy) {
    replace(root, notice("info", h("p", {}, "No privacy policy has been published on this Gatehouse yet.")));
    return;
  }
  replace(
    root,
    h(
      "section",
      { class: "panel", "aria-labelledby": "policy-heading" },
      h("h2", { id: "policy-heading" }, `Version ${policy.version}`),
      h("p", { class: "hint" }, `Published ${formatDate(policy.published_at)}.`),
      h("div", { class: "policy-text" }, policy.text.split(/\n{2,}/).map((p) => h("p", {}, p))),
    ),
  );
}
