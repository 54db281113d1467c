// Sign up with a campus email; then "check your email", with a way to send the link again.
// The proof-of-work captcha is solved in a Web Worker while the student fills in the form.
// Where the browser can use passkeys, a student may choose one instead of a password: the
// account is then made without one and the passkey is added after confirming the email.

import { api } from "../api.js";
import { CAPTCHA_CODES, captchaKeeper } from "../captcha.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, checkbox, field, submit } from "../forms.js";
import { canAddPasskeys } from "../passkey-setup.js";
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
    canAddPasskeys() ? methodChoice(password) : null,
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
      const withPasskey = v.sign_in_with === "passkey";
      const body = { email: v.email, display_name: v.display_name };
      if (!withPasskey) body.password = v.password;
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
      showSent(root, v.email, withPasskey);
    },
  });

  replace(
    root,
    form,
    h("p", { class: "after-form" }, "Already have an account? ", h("a", { href: "/sign-in" }, "Sign in"), "."),
  );
}

/**
 * "Use a password" or "Use a passkey instead": choosing the passkey hides the password field
 * and disables it, so that it is neither asked for nor sent.
 */
function methodChoice(password) {
  const input = password.querySelector("input");
  const radio = (value, label, hint, checked) => {
    const id = `sign-in-with-${value}`;
    return h(
      "div",
      { class: "radio" },
      h("input", { type: "radio", id, name: "sign_in_with", value, checked, "aria-describedby": hint ? `${id}-hint` : null }),
      h("label", { for: id }, label),
      hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    );
  };
  const group = h(
    "fieldset",
    { class: "choice", "data-field": "sign_in_with" },
    h("legend", {}, "How you will sign in"),
    radio("password", "Use a password", null, true),
    radio(
      "passkey",
      "Use a passkey instead",
      "You add it after confirming your email. Your device then signs you in with its PIN, fingerprint or face.",
      false,
    ),
  );
  group.addEventListener("change", () => {
    const passkey = group.querySelector('input[value="passkey"]').checked;
    password.hidden = passkey;
    input.disabled = passkey;
  });
  return group;
}

function showSent(root, email, withPasskey = false) {
  const heading = h("h2", { tabindex: "-1" }, "Check your email");
  replace(
    root,
    h(
      "section",
      { class: "panel", "aria-labelledby": "sent-heading" },
      heading,
      h(
        "p",
        {},
        "We have sent a link to ",
        h("strong", {}, email),
        withPasskey
          ? ". Open it on the device that will keep your passkey to confirm your address and add the passkey. The link works for 24 hours."
          : ". Open it to confirm your address and finish creating your account. The link works for 24 hours.",
      ),
      h("p", {}, "Nothing there? Look in your spam or junk folder, or send the link again."),
      resendPanel(email),
    ),
  );
  heading.id = "sent-heading";
  heading.focus();
  announce("Check your email for a link to confirm your address.");
}
