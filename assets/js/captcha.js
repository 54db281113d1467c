// The proof-of-work captcha: a challenge from the API, solved in a Web Worker
// (captcha-worker.js) so the page stays responsive. Nothing leaves the campus: there is no
// third-party captcha service.

import { api } from "./api.js";
import { h } from "./dom.js";

/**
 * Fetches a challenge and solves it. Resolves with {challenge, nonce}, or null when the
 * captcha is off. `onProgress(fraction)` hears an estimate (the work is random: 2^difficulty
 * tries on average).
 */
export async function solveCaptcha(onProgress = () => {}) {
  const c = await api("GET", "/api/v1/captcha");
  if (!c?.enabled) return null;
  const expected = 2 ** c.difficulty;
  return new Promise((resolve, reject) => {
    const worker = new Worker("/assets/js/captcha-worker.js");
    worker.onmessage = ({ data }) => {
      if (data.type === "progress") {
        onProgress(Math.min(data.tried / expected, 0.95));
        return;
      }
      worker.terminate();
      onProgress(1);
      resolve({ challenge: c.challenge, nonce: data.nonce });
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error("The captcha solver could not run in this browser."));
    };
    worker.postMessage({ challenge: c.challenge, difficulty: c.difficulty });
  });
}

/** Codes of answers that a fresh solution fixes. */
export const CAPTCHA_CODES = new Set(["captcha_required", "captcha_invalid", "captcha_expired", "captcha_already_used"]);

/**
 * Keeps one solution ready for a form: solving starts at once, in the background. `take()`
 * waits for it (showing progress in `element`) and starts on the next, since each solution
 * works once.
 */
export function captchaKeeper() {
  const bar = h("progress", { max: "100", value: "0", "aria-label": "Checking that you are not a robot" });
  const words = h("span", {}, "");
  const element = h("div", { class: "captcha-status", hidden: true }, h("p", {}, "Checking that you are not a robot… ", words), bar);
  let pending = null;
  let waiting = false;
  const progress = (fraction) => {
    const percent = Math.round(fraction * 100);
    bar.value = percent;
    words.textContent = `${percent}%`;
  };
  const start = () => {
    pending = solveCaptcha(progress);
    // A failure is reported when the solution is taken, not here.
    pending.catch(() => {});
  };
  start();
  return {
    element,
    /** The current solution (null when the captcha is off); the next one starts solving. */
    async take() {
      if (waiting) return pending;
      waiting = true;
      element.hidden = false;
      try {
        return await pending;
      } finally {
        waiting = false;
        element.hidden = true;
        start();
      }
    },
    /** Drops the current solution (say, it expired) and starts a new one. */
    renew() {
      start();
    },
  };
}
