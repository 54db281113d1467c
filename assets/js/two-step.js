// The account page's two-step sign-in section: turn on TOTP (scan the QR code or type the
// secret, confirm with a code), see the recovery codes once, make new ones, turn it off.

import { api } from "./api.js";
import { announce, h, notice, replace } from "./dom.js";
import { bindForm, busyClick, field, submit } from "./forms.js";

function codeField(label = "Code from your authenticator app") {
  return field({
    name: "code",
    label,
    autocomplete: "one-time-code",
    inputmode: "numeric",
    hint: "6 digits, as your authenticator app shows them now.",
    required: "Enter the 6-digit code from your authenticator app",
    maxlength: 6,
  });
}

/** The account's current password, which turning it off and new recovery codes ask for. */
function passwordField() {
  return field({
    name: "password",
    label: "Your password",
    type: "password",
    autocomplete: "current-password",
    required: "Enter your password",
  });
}

/**
 * The section (`element`); it loads its state itself. `withoutPassword()`: the account has no
 * password (it signs in with passkeys), so the forms ask for none: a recent sign-in stands in.
 */
export function twoStepSection() {
  let hasPassword = true;
  const passwordIfAny = () => (hasPassword ? passwordField() : null);
  const body = h("div", { class: "stack" }, h("p", { role: "status" }, "Loading…"));
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": "two-step-heading" },
    h("h2", { id: "two-step-heading", tabindex: "-1" }, "Two-step sign-in"),
    body,
  );
  const focusHeading = () => element.querySelector("h2").focus();

  const show = async () => {
    try {
      const status = await api("GET", "/api/v1/account/mfa");
      if (status.totp_enabled) showOn(status);
      else showOff();
    } catch (error) {
      replace(body, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
    }
  };

  function showOff() {
    const start = h("button", { type: "button", class: "button" }, "Turn on two-step sign-in");
    const result = h("div", { role: "alert" });
    busyClick(
      start,
      async () => {
        const enrolment = await api("POST", "/api/v1/account/mfa/totp");
        showEnrolment(enrolment);
      },
      (error) => replace(result, notice("error", h("p", {}, error.message))),
    );
    replace(
      body,
      h("p", {}, "Two-step sign-in is off. Turn it on to ask for a code from an authenticator app on your phone after your password: a stolen password alone then cannot sign in."),
      h("div", { class: "button-row" }, start),
      result,
    );
  }

  function showEnrolment(enrolment) {
    const svg = `data:image/svg+xml;base64,${btoa(enrolment.qr_svg)}`;
    const form = h("form", { class: "stack", "aria-label": "Confirm two-step sign-in" }, codeField(), submit("Turn on"));
    bindForm(form, {
      onSubmit: async (v) => {
        const confirmed = await api("POST", "/api/v1/account/mfa/totp/confirm", { code: v.code });
        showCodes(confirmed.recovery_codes, "Two-step sign-in is on.");
      },
    });
    replace(
      body,
      h("p", {}, "1. Scan this QR code with an authenticator app (for example Google Authenticator, Microsoft Authenticator, FreeOTP or Aegis)."),
      h("img", { src: svg, alt: "QR code to add your account to an authenticator app", class: "qr", width: "200", height: "200" }),
      h("p", {}, "Cannot scan? Type this key into the app instead:"),
      h("p", {}, h("code", { class: "secret", "data-secret": "" }, enrolment.secret)),
      h("p", {}, "2. Enter the code the app shows to finish."),
      form,
    );
    focusHeading();
    announce("Scan the QR code with your authenticator app, then enter the code it shows.");
  }

  function showCodes(codes, message) {
    const done = h("button", { type: "button", class: "button" }, "I have saved my recovery codes");
    done.addEventListener("click", async () => {
      await show();
      focusHeading();
    });
    replace(
      body,
      notice("success", h("p", {}, message)),
      h("p", {}, "Save these recovery codes somewhere safe, away from your phone. Each one signs you in once if you lose your phone. They are shown only now."),
      h("ul", { class: "recovery-codes", "aria-label": "Recovery codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("div", { class: "button-row" }, done),
    );
    focusHeading();
    announce(`${message} Save your recovery codes now; they are shown only once.`);
  }

  function showOn(status) {
    const left = status.recovery_codes_left;
    const offForm = h(
      "form",
      { class: "stack", "aria-label": "Turn off two-step sign-in" },
      passwordIfAny(),
      field({
        name: "code",
        label: "Code or recovery code",
        autocomplete: "one-time-code",
        hint: "The 6-digit code from your authenticator app, or one of your recovery codes.",
        required: "Enter a code from your authenticator app",
        maxlength: 20,
      }),
      submit("Turn off two-step sign-in", "danger"),
    );
    bindForm(offForm, {
      onSubmit: async (v) => {
        await api("DELETE", "/api/v1/account/mfa/totp", { password: v.password, code: v.code });
        await show();
        focusHeading();
        announce("Two-step sign-in is off.");
      },
    });
    const newCodes = h(
      "form",
      { class: "stack", "aria-label": "Make new recovery codes" },
      passwordIfAny(),
      codeField(),
      submit("Make new recovery codes"),
    );
    bindForm(newCodes, {
      onSubmit: async (v) => {
        const made = await api("POST", "/api/v1/account/mfa/recovery-codes", { password: v.password, code: v.code });
        showCodes(made.recovery_codes, "New recovery codes are made; the old ones no longer work.");
      },
    });
    replace(
      body,
      h("p", { "data-mfa-state": "on" }, `Two-step sign-in is on. ${left} unused recovery code${left === 1 ? "" : "s"} left.`),
      h("h3", {}, "New recovery codes"),
      newCodes,
      h("h3", {}, "Turn it off"),
      offForm,
    );
  }

  show();
  const withoutPassword = () => {
    hasPassword = false;
    return show();
  };
  return { element, withoutPassword };
}
