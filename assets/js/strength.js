// A live password-strength meter: asks the API (policy + zxcvbn) a moment after typing stops.

import { api } from "./api.js";
import { h, uniqueId } from "./dom.js";

const WORDS = ["Very weak", "Weak", "Fair", "Strong", "Very strong"];
const DELAY_MS = 350;

/**
 * Attaches a meter to the password field `wrapper` (made by forms.field). `email()` returns the
 * email the password is for, so that a password containing it scores lower.
 */
export function attachStrengthMeter(wrapper, email = () => "") {
  const input = wrapper.querySelector("input");
  const id = uniqueId("strength");
  const bar = h("div", { class: "strength-bar", "aria-hidden": "true" }, h("span"), h("span"), h("span"), h("span"));
  const text = h("p", { class: "strength-text", id: `${id}-text`, "aria-live": "polite" });
  const meter = h("div", { class: "strength", id, "data-score": "" }, bar, text);
  wrapper.append(meter);

  let timer = null;
  let controller = null;
  let lastAsked = null;

  const show = (score, message) => {
    meter.dataset.score = score === null ? "" : String(score);
    text.textContent = message;
  };

  const ask = async () => {
    const password = input.value;
    const forEmail = email() || "";
    const key = `${forEmail}\u0000${password}`;
    if (key === lastAsked) return;
    lastAsked = key;
    controller?.abort();
    if (!password) {
      show(null, "");
      return;
    }
    controller = new AbortController();
    try {
      const result = await api(
        "POST",
        "/api/v1/auth/password/strength",
        { password, email: forEmail },
        { signal: controller.signal },
      );
      const score = Math.max(0, Math.min(4, Number(result.score) || 0));
      const verdict = result.acceptable
        ? score >= 3
          ? "It meets the rules."
          : "It meets the rules, but a longer one would be safer."
        : result.problem || "It does not meet the rules yet.";
      show(score, `Password strength: ${WORDS[score]}. ${verdict}`);
    } catch (error) {
      if (error.name === "AbortError") return;
      lastAsked = null;
      show(null, "");
    }
  };

  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, DELAY_MS);
  };
  input.addEventListener("input", schedule);
  return { refresh: schedule, reset: () => { lastAsked = null; show(null, ""); } };
}
