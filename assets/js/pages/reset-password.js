// The target of the emailed reset link: /reset-password?token=... chooses a new password, or
// adds a passkey instead (the way back in for an account that signs in with passkeys only).

import { api } from "../api.js";
import { h, notice, replace } from "../dom.js";
import { bindForm, field, showErrors, submit } from "../forms.js";
import { LINK_PROBLEMS, canAddPasskeys, passkeySetupForm } from "../passkey-setup.js";
import { attachStrengthMeter } from "../strength.js";

export const title = "Choose a new password";

export function render(root, { params }) {
  const token = params.get("token");
  if (!token) {
    replace(
      root,
      h("p", {}, "To choose a new password, open the link we emailed you."),
      h("p", {}, h("a", { href: "/forgot-password" }, "Ask for a reset link")),
    );
    return;
  }
  // Keep the one-time token out of the address bar and the history.
  window.history.replaceState(null, "", "/reset-password");

  const password = field({
    name: "new_password",
    label: "New password",
    type: "password",
    autocomplete: "new-password",
    hint: "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    required: "Choose a new password",
  });
  const form = h("form", { class: "stack", "aria-label": "Choose a new password" }, password, submit("Save the new password"));
  attachStrengthMeter(password);
  const again = h("p", { class: "after-form" });

  bindForm(form, {
    onSubmit: async (v) => {
      try {
        await api("POST", "/api/v1/auth/password/reset", { token, new_password: v.new_password });
      } catch (error) {
        if (LINK_PROBLEMS.has(error.code)) {
          showErrors(form, error.message);
          replace(again, h("a", { href: "/forgot-password" }, "Ask for a new reset link"));
          return;
        }
        throw error;
      }
      window.location.assign("/sign-in?reset=1");
    },
  });

  replace(
    root,
    h("p", {}, "Choosing a new password signs you out everywhere, on every device."),
    form,
    again,
    canAddPasskeys() ? passkeyInstead(root, token) : null,
  );
}

/** "Add a passkey instead": the same link adds a passkey to the account rather than a password. */
function passkeyInstead(root, token) {
  const area = h("div", { class: "passkey-add" });
  const button = h("button", { type: "button", class: "button secondary", "aria-expanded": "false" }, "Add a passkey instead");
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    if (open) {
      replace(area);
      return;
    }
    replace(area, passkeySetupForm(token, root));
    area.querySelector("input").focus();
  });
  return h(
    "section",
    { class: "passkey-sign-in", "aria-labelledby": "passkey-instead-heading" },
    h("h2", { id: "passkey-instead-heading" }, "Or use a passkey"),
    h("p", { class: "hint" }, "Sign in with your device's PIN, fingerprint or face instead of a password."),
    h("div", { class: "button-row" }, button),
    area,
  );
}
