// The target of the emailed link: /verify-email?token=... confirms the address at once.
// Without a token (or with a spent one) it offers to send a new link. An account made without
// a password (the student chose a passkey) gets a setup token with the answer: the page then
// offers to add the passkey, or to set a password instead.

import { api } from "../api.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";
import { canAddPasskeys, passkeySetupForm } from "../passkey-setup.js";
import { attachStrengthMeter } from "../strength.js";

export const title = "Confirm your email";

/** A small form that sends a new verification link; used here and after signing up / in. */
export function resendPanel(email = "") {
  const result = h("div", { class: "form-result", role: "status" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Send a new confirmation link" },
    field({
      name: "email",
      label: "Email address",
      type: "email",
      autocomplete: "email",
      value: email,
      required: "Enter the email address you signed up with",
    }),
    submit("Send the link again", "secondary"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      await api("POST", "/api/v1/auth/verify-email/resend", { email: v.email });
      replace(
        result,
        notice(
          "success",
          h("p", {}, `If ${v.email} has an account waiting to be confirmed, a new link is on its way. Only the newest link works.`),
        ),
      );
    },
  });
  return h("div", { class: "resend" }, form, result);
}

export async function render(root, { params }) {
  const token = params.get("token");
  if (!token) {
    replace(
      root,
      h("p", {}, "To confirm your email address, open the link we emailed you. If it has expired or you cannot find it, we can send a new one."),
      resendPanel(),
    );
    return;
  }
  // The token is single use: keep it out of the address bar and the history.
  window.history.replaceState(null, "", "/verify-email");

  const status = h("div", { role: "status", class: "form-result" }, h("p", {}, "Confirming your email address…"));
  replace(root, status);
  let answer;
  try {
    answer = await api("POST", "/api/v1/auth/verify-email", { token });
  } catch (error) {
    const used = error.code === "token_already_used";
    replace(
      root,
      h(
        "div",
        { role: "alert" },
        notice(
          used ? "info" : "error",
          h("p", {}, used ? "This link has already been used. If you confirmed your address with it, you can sign in." : error.message),
        ),
      ),
      used ? h("p", {}, h("a", { class: "button", href: "/sign-in" }, "Sign in")) : null,
      h("h2", {}, "Need a new link?"),
      resendPanel(),
    );
    return;
  }
  if (answer?.setup_token) {
    chooseHowToSignIn(root, answer.setup_token);
    return;
  }
  const heading = h("h2", { tabindex: "-1" }, "Your email address is confirmed");
  replace(
    root,
    h(
      "div",
      { class: "panel" },
      heading,
      h("p", {}, "Your account is ready. Sign in with your email and password."),
      h("p", {}, h("a", { class: "button", href: "/sign-in" }, "Sign in")),
    ),
  );
  heading.focus();
  announce("Your email address is confirmed.");
}

/**
 * A confirmed account with no password and no passkey yet: add a passkey (first choice), or set
 * a password instead. Both use the setup token, which lives only in this page.
 */
function chooseHowToSignIn(root, setupToken) {
  const heading = h("h2", { tabindex: "-1" }, "Your email address is confirmed");
  const passwordArea = h("div", { class: "passkey-add" });
  const other = h("button", { type: "button", class: "button secondary", "aria-expanded": "false" }, "Set a password instead");
  other.addEventListener("click", () => {
    if (other.getAttribute("aria-expanded") === "true") {
      replace(passwordArea);
      other.setAttribute("aria-expanded", "false");
      return;
    }
    const form = newPasswordForm(root, setupToken);
    replace(passwordArea, form);
    other.setAttribute("aria-expanded", "true");
    form.elements.new_password.focus();
  });
  const passkeys = canAddPasskeys();
  replace(
    root,
    h(
      "div",
      { class: "panel" },
      heading,
      h(
        "p",
        {},
        passkeys
          ? "One more step: add the passkey you will sign in with. Your device will ask for its PIN, fingerprint or face."
          : "One more step: choose a password to sign in with. This browser cannot use passkeys; you can add one later from another browser or device.",
      ),
      passkeys ? passkeySetupForm(setupToken, root) : null,
      h("p", { class: "hint" }, "Do this now: if you leave this page, use \u201cForgotten your password?\u201d on the sign-in page to get a new link."),
    ),
    passkeys ? h("div", { class: "button-row" }, other) : null,
    passkeys ? passwordArea : newPasswordForm(root, setupToken),
  );
  heading.focus();
  announce("Your email address is confirmed. One more step: choose how you will sign in.");
}

/** A new password for the account, set with the setup token (as a reset link would). */
function newPasswordForm(root, setupToken) {
  const password = field({
    name: "new_password",
    label: "New password",
    type: "password",
    autocomplete: "new-password",
    hint: "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    required: "Choose a password",
  });
  const form = h("form", { class: "stack", "aria-label": "Set a password" }, password, submit("Save the password"));
  attachStrengthMeter(password);
  bindForm(form, {
    onSubmit: async (v) => {
      await api("POST", "/api/v1/auth/password/reset", { token: setupToken, new_password: v.new_password });
      const heading = h("h2", { tabindex: "-1" }, "Your password is set");
      replace(
        root,
        h(
          "div",
          { class: "panel" },
          heading,
          h("p", {}, "Your account is ready. Sign in with your email and password."),
          h("p", {}, h("a", { class: "button", href: "/sign-in" }, "Sign in")),
        ),
      );
      heading.focus();
      announce("Your password is set.");
    },
  });
  return form;
}
