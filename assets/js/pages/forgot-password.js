// Ask for a password-reset link by email. The answer never says whether the account exists.

import { api } from "../api.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";

export const title = "Reset your password";

export function render(root) {
  const result = h("div", { role: "status", class: "form-result" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Ask for a reset link" },
    field({
      name: "email",
      label: "Email",
      type: "email",
      autocomplete: "email",
      hint: "We will email you a link to choose a new password.",
      required: "Enter the email address of your account",
    }),
    submit("Email me a reset link"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      await api("POST", "/api/v1/auth/password/forgot", { email: v.email });
      replace(
        result,
        notice(
          "success",
          h("p", {}, `If ${v.email} has an account, a reset link is on its way. It works once, for one hour.`),
          h("p", {}, "Nothing there after a few minutes? Look in your spam folder, or ask again."),
        ),
      );
      announce("Check your email for the reset link.");
    },
  });
  replace(
    root,
    form,
    result,
    h("p", { class: "after-form" }, "Remembered it? ", h("a", { href: "/sign-in" }, "Sign in"), "."),
  );
}
