// Adding a passkey: the name asked before the browser's dialog, the words for what can go
// wrong, and the form that adds one with an emailed link (after confirming the email of an
// account with no password, or from a reset link) and then offers to sign in with it.

import { ApiError, api } from "./api.js";
import { announce, h, notice, replace } from "./dom.js";
import { bindForm, field, showErrors, submit } from "./forms.js";
import { passkeyButton } from "./passkey-sign-in.js";
import { policyPrompt } from "./privacy.js";
import { browserProblem, createPasskey, passkeysPossibleHere, passkeysSupported } from "./webauthn.js";

export const NAME_MAX = 60;

/** Link problems shared with the reset page: the link is no good, ask for a new one. */
export const LINK_PROBLEMS = new Set(["invalid_token", "token_expired", "token_already_used"]);

/** Whether this page can offer to add a passkey. */
export function canAddPasskeys() {
  return passkeysSupported() && passkeysPossibleHere();
}

/** "Passkey on Android": a name the student can keep, from the device they are on. */
export function defaultPasskeyName() {
  const ua = navigator.userAgent;
  const system =
    navigator.userAgentData?.platform ||
    [
      [/Android/, "Android"],
      [/iPhone/, "iPhone"],
      [/iPad/, "iPad"],
      [/Windows/, "Windows"],
      [/Mac OS X|Macintosh/, "Mac"],
      [/CrOS/, "ChromeOS"],
      [/Linux/, "Linux"],
    ].find(([re]) => re.test(ua))?.[1];
  return system ? `Passkey on ${system}` : "My passkey";
}

/** The passkey's name, asked before the ceremony so that the list can tell passkeys apart. */
export function nameField(value = defaultPasskeyName()) {
  return field({
    name: "name",
    label: "Name for this passkey",
    hint: "To tell your passkeys apart, for example the device or password manager it is kept in.",
    required: "Enter a name for the passkey",
    value,
    maxlength: NAME_MAX,
    autocomplete: "off",
  });
}

/** Our own check of the name (the API checks it again). */
export function validateName(v) {
  return v.name && [...v.name].length > NAME_MAX
    ? [{ field: "name", message: `Use at most ${NAME_MAX} characters for the name` }]
    : [];
}

/**
 * Creates the passkey in the browser and turns its refusal into an ApiError-like error the
 * form can show. `options` is the API's {challenge_id, public_key}.
 */
export async function createForForm(options) {
  try {
    return await createPasskey(options.public_key);
  } catch (error) {
    const words = browserProblem(error, true);
    if (words) throw new ApiError({ code: `browser_${error.name}`, detail: words });
    throw error;
  }
}

/** Words for the API's refusal of a new passkey, when ours say more than its detail. */
export function registerProblem(error) {
  switch (error?.code) {
    case "passkey_not_accepted":
      return "The passkey was not accepted: your device did not confirm it was you (with your PIN, fingerprint or face). Try again.";
    case "passkey_already_registered":
      return "This passkey is already on your account. Use it to sign in, or add one on another device.";
    case "passkey_challenge_invalid":
      return "Adding the passkey took too long. Try again.";
    default:
      return null;
  }
}

/**
 * The form that adds a passkey with an emailed link's `token`; once it is added, `root` (the
 * page) says so and offers to sign in with it (then the account page).
 */
export function passkeySetupForm(token, root, { submitLabel = "Add a passkey" } = {}) {
  const area = h("div", { class: "passkey-setup" });
  const again = h("p", { class: "after-form" });
  const form = h("form", { class: "stack", "aria-label": "Add a passkey" }, nameField(), submit(submitLabel));
  bindForm(form, {
    validate: validateName,
    onSubmit: async (v) => {
      replace(again);
      let added;
      try {
        const options = await api("POST", "/api/v1/auth/passkey/setup/options", { token });
        const credential = await createForForm(options);
        added = await api("POST", "/api/v1/auth/passkey/setup", {
          token,
          challenge_id: options.challenge_id,
          name: v.name,
          credential,
        });
      } catch (error) {
        if (LINK_PROBLEMS.has(error.code)) {
          showErrors(form, error.message);
          replace(again, h("a", { href: "/forgot-password" }, "Ask for a new link"));
          return;
        }
        const words = registerProblem(error);
        if (words) {
          showErrors(form, words);
          return;
        }
        throw error;
      }
      showAdded(root, added);
    },
  });
  replace(area, form, again);
  return area;
}

/** "Passkey added", with a button that signs in with it and goes to the account page. */
function showAdded(root, passkey) {
  const heading = h("h2", { tabindex: "-1" }, "Passkey added");
  const toAccount = (answer) => {
    if (answer?.policy_acceptance_required) {
      const prompt = policyPrompt(answer.policy_version, () => window.location.assign("/account"));
      replace(root, prompt.element);
      prompt.focus();
      return;
    }
    window.location.assign("/account");
  };
  const { button, result } = passkeyButton({ label: "Sign in with your passkey", onSignedIn: toAccount });
  button.classList.remove("secondary");
  replace(
    root,
    h(
      "div",
      { class: "panel" },
      heading,
      notice("success", h("p", {}, `“${passkey.name}” is added to your account. You can now sign in with it, with no password to type.`)),
      h("div", { class: "button-row" }, button),
      result,
    ),
  );
  heading.focus();
  announce("Passkey added. You can now sign in with it.");
}
