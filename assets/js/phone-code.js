// Codes sent by SMS, for signing in (/phone) and for adding a phone to an account: first the
// number (a code is sent to it), then the 6 digits, with "Send a new code" after a visible
// countdown (60 seconds after each code, or what a 429's Retry-After says).

import { api, waitWords } from "./api.js";
import { announce, h, notice, replace, uniqueId } from "./dom.js";
import { bindForm, checkbox, clearErrors, field, showErrors, showProblem, submit } from "./forms.js";

/** Seconds between two codes for one phone (the server's cooldown). */
export const RESEND_SECONDS = 60;

/** The hint under every phone-number field. */
// No-break spaces keep the example number on one line.
export const PHONE_HINT = "With the country code, for example +91\u00a098765\u00a043210.";

const PHONE_MESSAGE = "Enter a mobile number such as +91 98765 43210";

/** Our own check of a typed number (the server's is the real one): characters and length. */
export function checkPhone(value) {
  const digits = value.replace(/\D/g, "");
  if (!/^\+?[0-9 ().-]+$/.test(value) || digits.length < 6 || digits.length > 15) return PHONE_MESSAGE;
  return null;
}

/** A code as typed or pasted ("123 456", "123-456") without its separators. */
function cleanCode(value) {
  return value.replace(/[\s-]/g, "");
}

/**
 * The two steps. Options:
 * - mode: "sign-in" (with "keep me signed in") or "link" (the signed-in account gets the phone);
 * - phone: the number to start with;
 * - verifyLabel: the text of the button that checks the code;
 * - onVerified(result, phone): after a right code (`result` is the API's {user, outcome}, or
 *   {mfa_required, mfa_token} when the account asks for its second factor too);
 * - onCancel: when given, the number step has a "Cancel" button that calls it.
 * Returns {element, focus()}.
 */
export function phoneCodeFlow({ mode, phone = "", verifyLabel, onVerified, onCancel = null }) {
  const signIn = mode === "sign-in";
  let current = "";

  // Step 1: the number.
  const numberForm = h(
    "form",
    { class: "stack", "aria-label": signIn ? "Get a sign-in code" : "Send a code to your phone" },
    field({
      name: "phone",
      label: "Mobile number",
      type: "tel",
      autocomplete: "tel",
      hint: PHONE_HINT,
      value: phone,
      required: "Enter your mobile number",
    }),
    onCancel
      ? h(
          "div",
          { class: "button-row" },
          submit("Send me a code"),
          h("button", { type: "button", class: "button secondary", onclick: () => onCancel() }, "Cancel"),
        )
      : submit("Send me a code"),
  );
  const phoneInput = numberForm.elements.phone;

  // Step 2: the code, and a new one when the first does not come.
  const codeNotice = h("div", { class: "code-notice" });
  const codeForm = h(
    "form",
    { class: "stack", "aria-label": "Enter the code" },
    field({
      name: "code",
      label: "Code from the SMS",
      autocomplete: "one-time-code",
      inputmode: "numeric",
      hint: "6 digits. A code works for 10 minutes, and only the newest one works.",
      required: "Enter the 6-digit code from the SMS",
    }),
    signIn
      ? checkbox({
          name: "remember_me",
          label: "Keep me signed in on this device",
          hint: "For up to 30 days. Do not choose this on a shared computer.",
        })
      : null,
    submit(verifyLabel ?? (signIn ? "Sign in" : "Verify phone")),
  );
  const codeInput = codeForm.elements.code;
  codeInput.setAttribute("autocapitalize", "off");
  codeInput.setAttribute("spellcheck", "false");

  const countdown = h("p", { class: "countdown", id: uniqueId("resend-wait") });
  const resend = h(
    "button",
    { type: "button", class: "button secondary resend", "aria-describedby": countdown.id },
    "Send a new code",
  );
  const change = h("button", { type: "button", class: "button secondary" }, "Use a different number");
  // Always in the page (never display: none), so that what is put in it is announced.
  const resendResult = h("div", { class: "live-result", role: "status" });
  const codeStep = h(
    "div",
    { class: "code-step", hidden: true },
    codeNotice,
    codeForm,
    h("div", { class: "resend-area" }, countdown, h("div", { class: "button-row" }, resend, change), resendResult),
  );

  // --- The countdown before "Send a new code" ---
  let until = 0;
  let timer = null;
  const secondsLeft = () => Math.max(0, Math.ceil((until - Date.now()) / 1000));
  const stopCountdown = () => {
    window.clearTimeout(timer);
    timer = null;
  };
  const tick = () => {
    stopCountdown();
    const left = secondsLeft();
    if (left <= 0) {
      resend.removeAttribute("aria-disabled");
      countdown.textContent = "No code yet? You can ask for a new one now.";
      return;
    }
    resend.setAttribute("aria-disabled", "true");
    countdown.textContent = `You can ask for a new code in ${waitWords(left)}.`;
    // Wake up when the number of whole seconds left changes.
    timer = window.setTimeout(tick, (until - Date.now()) % 1000 || 1000);
  };
  const startCountdown = (seconds) => {
    until = Date.now() + Math.max(1, Number(seconds) || RESEND_SECONDS) * 1000;
    tick();
  };

  // --- Moving between the steps ---
  const showCodeStep = (number, { wait, limited }) => {
    current = number;
    numberForm.hidden = true;
    codeStep.hidden = false;
    codeInput.value = "";
    clearErrors(codeForm);
    replace(resendResult);
    let words;
    if (limited) {
      words = `We cannot send another code to ${number} yet. If you got one in the last 10 minutes, enter it below; if not, ask for a new code when the countdown ends.`;
      replace(codeNotice, notice("warning", h("p", {}, words)));
    } else if (signIn) {
      words = `If ${number} is verified on a Gatehouse account, a code is on its way to it by SMS.`;
      replace(
        codeNotice,
        notice(
          "info",
          h("p", {}, words),
          h("p", {}, "No code? The phone may not be verified yet: sign in with your email and add it on your account page."),
        ),
      );
    } else {
      words = `A code is on its way to ${number} by SMS.`;
      replace(codeNotice, notice("info", h("p", {}, words)));
    }
    startCountdown(wait);
    codeInput.focus();
    announce(words);
  };

  const showNumberStep = () => {
    stopCountdown();
    codeStep.hidden = true;
    numberForm.hidden = false;
    clearErrors(numberForm);
    phoneInput.focus();
    phoneInput.select();
  };

  // Signed in, the API treats a request whose session has ended as a guest's: a code asked for
  // then is not sent, and one checked then signs in whoever has the phone instead of adding it.
  // So, when adding a phone, make sure the session is alive first (a 401 says it has ended).
  const stillSignedIn = async () => {
    if (!signIn) await api("GET", "/api/v1/auth/session");
  };

  // --- Step 1: ask for a code ---
  bindForm(numberForm, {
    validate: (v) => {
      const problem = v.phone ? checkPhone(v.phone) : null;
      return problem ? [{ field: "phone", message: problem }] : [];
    },
    onSubmit: async (v) => {
      await stillSignedIn();
      try {
        await api("POST", "/api/v1/auth/otp/request", { phone: v.phone });
      } catch (error) {
        // A code was asked for this number a moment ago: the last one may still be on its way.
        if (error.status === 429) {
          showCodeStep(v.phone, { wait: error.retryAfter, limited: true });
          return;
        }
        throw error; // shown in the form
      }
      showCodeStep(v.phone, { wait: RESEND_SECONDS });
    },
  });

  // --- Step 2: check the code ---
  bindForm(codeForm, {
    validate: (v) =>
      /^\d{6}$/.test(cleanCode(v.code)) ? [] : [{ field: "code", message: "Enter the 6 digits of the code from the SMS" }],
    onSubmit: async (v) => {
      const body = { phone: current, code: cleanCode(v.code) };
      if (signIn) body.remember_me = v.remember_me;
      let result;
      try {
        await stillSignedIn();
        result = await api("POST", "/api/v1/auth/otp/verify", body);
      } catch (error) {
        explain(error);
        return;
      }
      await onVerified(result, current);
    },
  });

  const explain = (error) => {
    switch (error.code) {
      case "invalid_code":
        showErrors(
          codeForm,
          "That code did not work. Check the 6 digits in the newest SMS and type them again, or ask for a new code.",
          [{ field: "code", message: "This code is not right, has expired or was already used" }],
        );
        codeInput.focus();
        codeInput.select();
        return;
      case "phone_taken":
        showErrors(
          codeForm,
          `${current} is already verified on another Gatehouse account, so it cannot be added to this one. Use a different number, or ask campus IT for help.`,
        );
        return;
      case "rate_limited":
        showErrors(
          codeForm,
          error.retryAfter
            ? `Too many tries with this number. Please wait ${waitWords(error.retryAfter)} and try again.`
            : "Too many tries with this number. Please wait a little and try again.",
        );
        return;
      default:
        showProblem(codeForm, error);
    }
  };

  // --- "Send a new code" and "Use a different number" ---
  let sending = false;
  resend.addEventListener("click", async () => {
    if (sending) return;
    const left = secondsLeft();
    if (left > 0) {
      announce(`You can ask for a new code in ${waitWords(left)}.`);
      return;
    }
    sending = true;
    resend.setAttribute("aria-disabled", "true");
    resend.classList.add("is-busy");
    replace(resendResult);
    try {
      await stillSignedIn();
      await api("POST", "/api/v1/auth/otp/resend", { phone: current });
      codeInput.value = "";
      clearErrors(codeForm);
      startCountdown(RESEND_SECONDS);
      replace(resendResult, notice("success", h("p", {}, `A new code is on its way to ${current}. Only the newest code works.`)));
      codeInput.focus();
    } catch (error) {
      if (error.status === 429) {
        startCountdown(error.retryAfter);
        const wait = error.retryAfter ? waitWords(error.retryAfter) : "a little while";
        replace(
          resendResult,
          h(
            "div",
            { role: "alert" },
            notice("error", h("p", {}, `No new code was sent: too many codes were asked for this number. You can ask again in ${wait}.`)),
          ),
        );
      } else {
        tick();
        replace(resendResult, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
      }
    } finally {
      sending = false;
      resend.classList.remove("is-busy");
    }
  });
  change.addEventListener("click", showNumberStep);

  return {
    element: h("div", { class: "phone-code" }, numberForm, codeStep),
    focus: () => phoneInput.focus(),
  };
}
