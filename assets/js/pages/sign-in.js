// Sign in with email and password (and "keep me signed in"), then, for an account with
// two-step sign-in, a code from the authenticator app or a recovery code. When the API asks
// for a captcha (a throttled account or a busy address), it is solved in a Web Worker and the
// sign-in is sent again. An account paused by the lockout is tried once more with a solved
// captcha too: the API then checks the password, so its owner is not kept out.
// Passkeys sign in with no email typed: a button for the browser's dialog, and the email
// field's autofill (conditional mediation), which is ended while another sign-in runs.

import { api } from "../api.js";
import { solveCaptcha } from "../captcha.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, checkbox, field, showProblem, submit } from "../forms.js";
import { autofillSignIn, passkeyButton, signInProblem } from "../passkey-sign-in.js";
import { policyPrompt } from "../privacy.js";
import { autofillAvailable, passkeysPossibleHere, passkeysSupported } from "../webauthn.js";
import { resendPanel } from "./verify-email.js";

export const title = "Sign in";

function arrivalNotice(params) {
  if (params.get("expired")) {
    return notice("warning", h("p", {}, "You were signed out because nothing happened for a while. Sign in again to go on."));
  }
  if (params.get("signed_out")) return notice("success", h("p", {}, "You are signed out."));
  if (params.get("reset")) return notice("success", h("p", {}, "Your password is changed. Sign in with the new one."));
  if (params.get("deleted")) return notice("success", h("p", {}, "Your account and your personal data are deleted."));
  if (params.get("reauth")) return notice("info", h("p", {}, "The app you came from asks you to sign in again."));
  if (params.get("again")) return notice("info", h("p", {}, "For your safety, sign in again to go on."));
  if (params.get("next")) return notice("info", h("p", {}, "Sign in to go on."));
  return null;
}

export function render(root, { who, params, safeNext }) {
  // An app asking for a fresh sign-in (prompt=login, max_age) gets the form even when signed
  // in, and so does the account page before adding a passkey to an account with no password.
  if (who && !params.get("reauth") && !params.get("again")) {
    replace(
      root,
      notice("info", h("p", {}, `You are already signed in as ${who.user.email ?? who.user.phone ?? who.user.display_name}. `, h("a", { href: "/account" }, "Go to your account"), ".")),
    );
    return;
  }
  const status = h("div", { role: "status", class: "arrival" }, arrivalNotice(params));
  const extra = h("div", { class: "after-form" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Sign in" },
    field({
      name: "email",
      label: "Email",
      type: "email",
      autocomplete: "username",
      required: "Enter your email address",
    }),
    field({
      name: "password",
      label: "Password",
      type: "password",
      autocomplete: "current-password",
      required: "Enter your password",
    }),
    checkbox({
      name: "remember_me",
      label: "Keep me signed in on this device",
      hint: "For up to 30 days. Do not choose this on a shared computer.",
    }),
    submit("Sign in"),
  );

  // An app's login_hint: the email, filled in.
  const hint = params.get("email");
  if (hint) form.querySelector('input[name="email"]').value = hint;

  const robot = h("div", { class: "captcha-status", role: "status" });
  form.insertBefore(robot, form.querySelector('button[type="submit"]'));

  /** After a right password or passkey: the second step, the policy, or where `next` says. */
  const finish = (result) => {
    const next = safeNext(params.get("next"));
    if (result?.mfa_required) {
      showSecondStep(root, result.mfa_token, () => window.location.assign(next));
      return;
    }
    if (result?.policy_acceptance_required) {
      // Signed in; the new policy is accepted (or not) before going on.
      const prompt = policyPrompt(result.policy_version, () => window.location.assign(next));
      replace(root, prompt.element);
      prompt.focus();
      return;
    }
    window.location.assign(next);
  };

  const passkeys = passkeyPart(form, finish);

  bindForm(form, {
    onSubmit: async (v) => {
      replace(extra);
      // The browser keeps one passkey request at a time: the autofill's waits meanwhile.
      await passkeys.pause();
      try {
        const body = { email: v.email, password: v.password, remember_me: v.remember_me };
        let result;
        try {
          result = await api("POST", "/api/v1/auth/login", body);
        } catch (error) {
          if (error.code !== "captcha_required" && error.code !== "account_throttled") throw error;
          body.captcha = await solveWithProgress(robot);
          // With the captcha off, a paused account stays paused: show the pause.
          if (!body.captcha) throw error;
          result = await api("POST", "/api/v1/auth/login", body);
        }
        finish(result);
      } catch (error) {
        passkeys.resume();
        showProblem(form, error);
        if (error.code === "email_not_verified") {
          replace(extra, h("h2", {}, "Send a new confirmation link"), resendPanel(v.email));
        }
      }
    },
  });

  replace(
    root,
    status,
    form,
    extra,
    passkeys.element,
    h(
      "ul",
      { class: "link-list" },
      h("li", {}, h("a", { href: "/forgot-password" }, "Forgotten your password?")),
      h("li", {}, "New here? ", h("a", { href: "/sign-up" }, "Create an account")),
      h(
        "li",
        {},
        "Phone verified on your account? ",
        h("a", { href: params.get("next") ? `/phone?next=${encodeURIComponent(params.get("next"))}` : "/phone" }, "Sign in with a code sent to your phone"),
      ),
    ),
  );
}

/**
 * The passkey part of the sign-in page: the button and, where the browser offers it, the
 * email field's autofill. Hidden where passkeys cannot work (an IP address, or a server that
 * says so); a browser without passkeys is told so in a line. Returns {element, pause, resume}
 * for the password form, which pauses the autofill while it signs in.
 */
function passkeyPart(form, finish) {
  const element = h("div", { class: "passkey-sign-in" });
  let autofill = null;
  const idle = { element, pause: async () => {}, resume: () => {} };
  if (!passkeysPossibleHere()) {
    element.hidden = true;
    return idle;
  }
  if (!passkeysSupported()) {
    replace(element, h("p", { class: "hint" }, "This browser cannot use passkeys. Sign in with your password."));
    return idle;
  }
  const email = form.elements.email;
  const remember = () => form.elements.remember_me.checked;
  const hide = () => {
    element.hidden = true;
    email.setAttribute("autocomplete", "username");
    autofill?.stop();
    autofill = null;
  };
  // "webauthn" asks the browser to list passkeys among the saved sign-ins of the email field.
  email.setAttribute("autocomplete", "username webauthn");
  const { button, result } = passkeyButton({
    remember,
    beforeStart: () => autofill?.stop(),
    onSignedIn: finish,
    onUnavailable: hide,
    afterFailure: () => autofill?.restart(),
  });
  replace(
    element,
    h("h2", { class: "or-heading" }, "Or use a passkey"),
    h("p", { class: "hint" }, "No email or password to type: your device checks it is you with your PIN, fingerprint or face."),
    h("div", { class: "button-row" }, button),
    result,
  );
  autofillAvailable().then((available) => {
    if (!available || element.hidden) return;
    autofill = autofillSignIn({
      field: email,
      remember,
      onSignedIn: finish,
      onUnavailable: hide,
      onError: (error) => replace(result, notice("error", h("p", {}, signInProblem(error)))),
    });
  });
  return {
    element,
    pause: async () => autofill?.stop(),
    resume: () => autofill?.restart(),
  };
}

/** Solves a captcha, showing its progress in `where`. */
async function solveWithProgress(where) {
  const bar = h("progress", { max: "100", value: "0", "aria-label": "Checking that you are not a robot" });
  replace(where, h("p", {}, "Checking that you are not a robot before signing you in…"), bar);
  try {
    return await solveCaptcha((fraction) => {
      bar.value = Math.round(fraction * 100);
    });
  } finally {
    replace(where);
  }
}

/** The second step: a code from the authenticator app, or a recovery code. */
/**
 * The second step of a two-step sign-in, after a right password or phone code (`firstStep`
 * says which, in words): a TOTP or recovery code for the pending sign-in `mfaToken`.
 */
export function showSecondStep(root, mfaToken, done, firstStep = "Your password was right") {
  const heading = h("h2", { tabindex: "-1", id: "second-step-heading" }, "Enter your sign-in code");
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "second-step-heading" },
    field({
      name: "code",
      label: "Code",
      autocomplete: "one-time-code",
      hint: "The 6-digit code your authenticator app shows now, or one of your recovery codes.",
      required: "Enter the code from your authenticator app",
      maxlength: 20,
    }),
    submit("Continue"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      try {
        await api("POST", "/api/v1/auth/login/mfa", { mfa_token: mfaToken, code: v.code });
      } catch (error) {
        if (error.code === "mfa_token_invalid") {
          replace(
            root,
            notice("warning", h("p", {}, "This sign-in has expired or had too many wrong codes. "), h("a", { href: "/sign-in" }, "Sign in again"), "."),
          );
          return;
        }
        form.elements.code.value = "";
        throw error;
      }
      done();
    },
  });
  replace(
    root,
    h(
      "section",
      { class: "panel" },
      heading,
      h("p", {}, `Your account uses two-step sign-in. ${firstStep}; one more step.`),
      form,
      h("p", { class: "after-form" }, "Lost your phone? Use one of the recovery codes you saved when you turned two-step sign-in on."),
    ),
  );
  heading.focus();
  announce(`${firstStep}. Enter the code from your authenticator app.`);
}
