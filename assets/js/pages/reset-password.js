// The target of the emailed reset link: /reset-password?token=... chooses a new password.

import { api } from "../api.js";
import { h, notice, replace } from "../dom.js";
import { bindForm, field, showErrors, submit } from "../forms.js";
import { attachStrengthMeter } from "../strength.js";

export const title = "Choose a new password";

const LINK_PROBLEMS = new Set(["invalid_token", "token_expired", "token_already_used"]);

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
  );
}
