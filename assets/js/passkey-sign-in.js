// Signing in with a passkey, no email typed: the "Sign in with a passkey" button (the browser's
// own dialog) and the email field's autofill (conditional mediation), which waits in the
// background until the student picks a passkey there. Used by the sign-in page and after a
// passkey is added from an emailed link.

import { api } from "./api.js";
import { h, replace, notice } from "./dom.js";
import { busyClick } from "./forms.js";
import { browserProblem, getPasskey, isAbort } from "./webauthn.js";

// A challenge lives 5 minutes; an autofill request waiting longer is renewed before it
// expires, so that a passkey picked after lunch still works.
const AUTOFILL_RENEW_MS = 4 * 60 * 1000;

/** One passkey sign-in: options, the browser's assertion, the session. Resolves with the login answer. */
export async function signInWithPasskey({ remember = false, mediation, signal } = {}) {
  const options = await api("POST", "/api/v1/auth/passkey/options", {}, { signal });
  const credential = await getPasskey(options.public_key, { mediation, signal });
  return api("POST", "/api/v1/auth/passkey", {
    challenge_id: options.challenge_id,
    credential,
    remember_me: Boolean(remember),
  });
}

/** Words for a failed passkey sign-in (an ApiError or the browser's refusal). */
export function signInProblem(error) {
  const fromBrowser = browserProblem(error);
  if (fromBrowser) return fromBrowser;
  switch (error?.code) {
    case "passkey_not_accepted":
      return "This passkey was not accepted. It may have been removed from your account, or your device did not confirm it was you (with your PIN, fingerprint or face). Try again, or sign in with your password.";
    case "passkey_challenge_invalid":
      return "The passkey sign-in took too long. Try again.";
    default:
      return error?.message || "Something went wrong. Please try again.";
  }
}

/**
 * The "Sign in with a passkey" button with its own alert for problems. `remember()` says
 * whether to keep the session; `beforeStart()` (awaited) ends the autofill request, since a
 * browser runs one request at a time; `onSignedIn(answer)` takes over after success;
 * `onUnavailable()` hides the passkey controls when the server cannot offer passkeys;
 * `afterFailure()` runs after a problem is shown.
 */
export function passkeyButton({ label = "Sign in with a passkey", remember = () => false, beforeStart, onSignedIn, onUnavailable, afterFailure }) {
  const button = h("button", { type: "button", class: "button secondary" }, label);
  const result = h("div", { role: "alert", class: "passkey-result" });
  busyClick(
    button,
    async () => {
      replace(result);
      if (beforeStart) await beforeStart();
      const answer = await signInWithPasskey({ remember: remember() });
      await onSignedIn(answer);
    },
    (error) => {
      if (error?.code === "passkeys_unavailable") {
        onUnavailable?.();
        return;
      }
      replace(result, notice("error", h("p", {}, signInProblem(error))));
      afterFailure?.();
    },
  );
  return { button, result };
}

/**
 * Offers the account's passkeys in the email field's autofill, when the browser can. Returns
 * {stop, restart}: `stop()` (awaited) ends the waiting request; `restart()` starts it again.
 * `field` is the email input (autocomplete "username webauthn"); `onError(error)` hears of a
 * passkey picked but refused; `onUnavailable()` of a server without passkeys.
 */
export function autofillSignIn({ field, remember = () => false, onSignedIn, onError, onUnavailable }) {
  let controller = null;
  let running = null;
  let timer = null;

  const once = async (signal, retried) => {
    let options;
    try {
      options = await api("POST", "/api/v1/auth/passkey/options", {}, { signal });
    } catch (error) {
      // No autofill then (the button still works, or says why): asking again in a loop
      // would only meet the same answer or the rate limit.
      if (error?.code === "passkeys_unavailable") onUnavailable?.();
      return;
    }
    try {
      const credential = await getPasskey(options.public_key, { mediation: "conditional", signal });
      const answer = await api("POST", "/api/v1/auth/passkey", {
        challenge_id: options.challenge_id,
        credential,
        remember_me: Boolean(remember()),
      });
      window.clearTimeout(timer);
      await onSignedIn(answer);
    } catch (error) {
      if (isAbort(error) || signal.aborted) return;
      // A challenge that expired or was used meanwhile: ask for a new one, once, silently.
      if (error?.code === "passkey_challenge_invalid" && !retried) {
        await once(signal, true);
        return;
      }
      // A passkey picked but refused (by the device or the server): say so, and offer
      // passkeys in the autofill again when the email field is next used; restarting at once
      // could loop on a device that refuses straight away.
      onError?.(error);
      window.clearTimeout(timer);
      running = null;
      field?.addEventListener("focus", () => running || start(), { once: true });
    }
  };

  const start = () => {
    controller = new AbortController();
    const { signal } = controller;
    running = once(signal, false);
    window.clearTimeout(timer);
    timer = window.setTimeout(() => stop().then(start), AUTOFILL_RENEW_MS);
  };

  const stop = async () => {
    window.clearTimeout(timer);
    controller?.abort();
    controller = null;
    // The browser settles the aborted request before it takes another.
    await running?.catch(() => {});
    running = null;
  };

  const restart = async () => {
    await stop();
    start();
  };
  start();
  return { stop, restart };
}
