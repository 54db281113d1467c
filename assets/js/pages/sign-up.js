// Sign up with a campus email; then "check your email", with a way to send the link again.
// The proof-of-work captcha is solved in a Web Worker while the student fills in the form.

import { api } from "../api.js";
import { CAPTCHA_CODES, captchaKeeper } from "../captcha.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, checkbox, field, submit } from "../forms.js";
import { currentPolicy } from "../privacy.js";
import { attachStrengthMeter } from "../strength.js";
import { resendPanel } from "./verify-email.js";

export const title = "Create an account";

export async function render(root, { who }) {
  if (who) {
    replace(
      root,
      notice(
        "info",
        h("p", {}, `You are signed in as ${who.user.email}. `, h("a", { href: "/account" }, "Go to your account"), "."),
      ),
    );
    return;
  }

  const email = field({
    name: "email",
    label: "Campus email",
    type: "email",
    autocomplete: "email",
    hint: "The address your university gave you. Other addresses cannot sign up.",
    required: "Enter your campus email address",
  });
  const password = field({
    name: "password",
    label: "Password",
    type: "password",
    autocomplete: "new-password",
    hint: "At least 8 characters, with an upper-case letter, a lower-case letter and a digit. Not a common password, and not your email.",
    required: "Choose a password",
  });
  const keeper = captchaKeeper();
  // Once campus IT has published a privacy policy, signing up means accepting it.
  let policy = null;
  try {
    policy = await currentPolicy();
  } catch {
    policy = null;
  }
  const acceptance = policy
    ? checkbox({
        name: "accepted_policy_version",
        label: h(
          "span",
          {},
          "I have read and accept the ",
          h("a", { href: "/privacy-policy", target: "_blank", rel: "noopener" }, `privacy policy (version ${policy.version}, opens in a new tab)`),
        ),
      })
    : null;
  if (acceptance) acceptance.prepend(h("p", { class: "field-error", id: "accept-policy-error" }));
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create an account" },
    email,
    field({
      name: "display_name",
      label: "Your name",
      autocomplete: "nickname",
      hint: "The name other people see.",
      required: "Enter the name other people will see",
      maxlength: 100,
    }),
    field({
      name: "legal_name",
      label: "Legal name",
      autocomplete: "name",
      hint: "As on your official documents. Only needed if you want to drive.",
      optional: true,
    }),
    field({
      name: "phone",
      label: "Phone number",
      type: "tel",
      autocomplete: "tel",
      hint: "With the country code, for example +91 98765 43210.",
      optional: true,
    }),
    password,
    keeper.element,
    acceptance,
    submit("Create account"),
  );
  attachStrengthMeter(password, () => form.elements.email.value.trim());

  bindForm(form, {
    validate: (v) =>
      policy && !v.accepted_policy_version
        ? [{ field: "accepted_policy_version", message: "Accept the privacy policy to create an account" }]
        : [],
    onSubmit: async (v) => {
      const body = { email: v.email, password: v.password, display_name: v.display_name };
      if (policy) body.accepted_policy_version = policy.version;
      if (v.legal_name) body.legal_name = v.legal_name;
      if (v.phone) body.phone = v.phone;
      const register = async () => {
        const captcha = await keeper.take();
        if (captcha) body.captcha = captcha;
        return api("POST", "/api/v1/auth/register", body);
      };
      try {
        await register();
      } catch (error) {
        // An expired or spent solution: solve a fresh one and try once more.
        if (!CAPTCHA_CODES.has(error.code)) throw error;
        await register();
      }
      showSent(root, v.email);
    },
  });

  replace(
    root,
    form,
    h("p", { class: "after-form" }, "Already have an account? ", h("a", { href: "/sign-in" }, "Sign in"), "."),
  );
}

function showSent(root, email) {
  const heading = h("h2", { tabindex: "-1" }, "Check your email");
  replace(
    root,
    h(
      "section",
      { class: "panel", "aria-labelledby": "sent-heading" },
      heading,
      h("p", {}, "We have sent a link to ", h("strong", {}, email), ". Open it to confirm your address and finish creating your account. The link works for 24 hours."),
      h("p", {}, "Nothing there? Look in your spam or junk folder, or send the link again."),
      resendPanel(email),
    ),
  );
  heading.id = "sent-heading";
  heading.focus();
  announce("Check your email for a link to confirm your address.");
}
