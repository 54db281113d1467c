// Who is signed in, signing out, and the warning shown before an idle session times out.

import { api, csrfToken, forgetCsrfCookie } from "./api.js";
import { announce } from "./dom.js";

const ACTIVITY_KEY = "gatehouse.lastActivity";
const WARN_BEFORE_MS = 2 * 60 * 1000;

/**
 * GET /api/v1/auth/session: {user, session}, or null when nobody is signed in.
 *
 * The session cookie is HttpOnly, so a script cannot see whether there is one; but the CSRF
 * cookie is set and cleared with it, with the same lifetime, and is readable. Without it
 * nobody is signed in, and asking would only put a 401 in the browser's console on every
 * signed-out page: so the question is not asked.
 */
export async function loadSession() {
  if (!csrfToken()) return null;
  try {
    return await api("GET", "/api/v1/auth/session");
  } catch (error) {
    // A session that ended on the server (idle, revoked) leaves its cookies behind: forget
    // the readable one, so that the next pages do not ask again.
    if (error.status === 401) forgetCsrfCookie();
    // Otherwise the service may be down: the pages still render and their forms explain
    // what fails.
    return null;
  }
}

export function isAdmin(who) {
  return Boolean(who?.user?.roles?.includes("admin"));
}

/** Reviewers and admins decide driver reviews. */
export function isReviewer(who) {
  return isAdmin(who) || Boolean(who?.user?.roles?.includes("reviewer"));
}

/** Signs out (best effort: a session that already ended counts as signed out). */
export async function signOut() {
  stopTimeoutWatch();
  try {
    await api("POST", "/api/v1/auth/logout");
  } catch (error) {
    if (error.status !== 401) throw error;
  }
  try {
    window.localStorage.removeItem(ACTIVITY_KEY);
  } catch {
    /* storage may be unavailable */
  }
}

// --- The idle-timeout warning -----------------------------------------------------------

let watch = null;

function readLastActivity() {
  try {
    const value = Number(window.localStorage.getItem(ACTIVITY_KEY));
    return Number.isFinite(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}

function recordActivity() {
  if (!watch) return;
  const now = Date.now();
  watch.lastActivity = Math.max(watch.lastActivity, now);
  try {
    window.localStorage.setItem(ACTIVITY_KEY, String(watch.lastActivity));
  } catch {
    /* another tab will not hear of it; this one still works */
  }
  schedule();
}

function formatLeft(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return `${minutes}:${seconds}`;
}

function schedule() {
  if (!watch) return;
  window.clearTimeout(watch.timer);
  window.clearInterval(watch.ticker);
  const now = Date.now();
  const expireAt = watch.lastActivity + watch.idleMs;
  const warnAt = expireAt - watch.warnMs;
  if (now < warnAt) {
    hideWarning();
    watch.timer = window.setTimeout(schedule, warnAt - now);
  } else if (now < expireAt) {
    showWarning(expireAt);
    watch.timer = window.setTimeout(schedule, expireAt - now);
  } else {
    expire();
  }
}

function showWarning(expireAt) {
  const { dialog } = watch;
  const countdown = dialog.querySelector(".timeout-countdown");
  const text = dialog.querySelector("#timeout-text");
  const update = () => {
    countdown.textContent = `Time left: ${formatLeft(expireAt - Date.now())}`;
  };
  update();
  watch.ticker = window.setInterval(update, 1000);
  if (!dialog.open) {
    const minutes = Math.max(1, Math.ceil((expireAt - Date.now()) / 60000));
    text.textContent = `You will be signed out in about ${minutes} minute${minutes === 1 ? "" : "s"} because nothing has happened for a while. Do you want to stay signed in?`;
    watch.returnFocus = document.activeElement;
    dialog.showModal();
    dialog.querySelector("#timeout-stay").focus();
  }
}

function hideWarning() {
  const dialog = watch?.dialog;
  if (dialog?.open) {
    dialog.close();
    const back = watch.returnFocus;
    if (back && document.contains(back)) back.focus();
  }
}

async function stay() {
  const dialog = watch?.dialog;
  const button = dialog?.querySelector("#timeout-stay");
  button?.setAttribute("aria-disabled", "true");
  try {
    await api("GET", "/api/v1/auth/session"); // resets the server's idle timer, and ours
    announce("You are still signed in.");
  } catch (error) {
    if (error.status === 401) expire();
  } finally {
    button?.removeAttribute("aria-disabled");
  }
}

function expire() {
  if (!watch) return;
  const here = window.location.pathname + window.location.search;
  hideWarning();
  stopTimeoutWatch();
  signOut().catch(() => {}).finally(() => {
    const next = encodeURIComponent(here);
    window.location.assign(`/sign-in?expired=1&next=${next}`);
  });
}

function leave() {
  if (!watch) return;
  hideWarning();
  signOut().catch(() => {}).finally(() => {
    window.location.assign("/sign-in?signed_out=1");
  });
}

/** Starts watching the session from GET /api/v1/auth/session for idleness. */
export function startTimeoutWatch(who) {
  stopTimeoutWatch();
  const idleSeconds = Number(who?.session?.idle_timeout_seconds);
  const dialog = document.getElementById("timeout-dialog");
  if (!Number.isFinite(idleSeconds) || idleSeconds <= 0 || !dialog) return;
  const idleMs = idleSeconds * 1000;
  watch = {
    dialog,
    idleMs,
    // Two minutes before; for very short timeouts, half-way.
    warnMs: Math.min(WARN_BEFORE_MS, idleMs / 2),
    lastActivity: Date.now(), // the session was just used to load this page
    timer: null,
    ticker: null,
    returnFocus: null,
    listeners: [],
  };
  const on = (target, type, fn) => {
    target.addEventListener(type, fn);
    watch.listeners.push([target, type, fn]);
  };
  on(window, "gatehouse:activity", recordActivity);
  on(window, "storage", (event) => {
    if (event.key !== ACTIVITY_KEY || !watch) return;
    const other = readLastActivity();
    if (other > watch.lastActivity) {
      watch.lastActivity = other;
      schedule();
    }
  });
  on(dialog.querySelector("#timeout-stay"), "click", stay);
  on(dialog.querySelector("#timeout-leave"), "click", leave);
  // Escape closes a modal dialog: take it as "I am here".
  on(dialog, "cancel", (event) => {
    event.preventDefault();
    stay();
  });
  recordActivity();
}

export function stopTimeoutWatch() {
  if (!watch) return;
  window.clearTimeout(watch.timer);
  window.clearInterval(watch.ticker);
  for (const [target, type, fn] of watch.listeners) target.removeEventListener(type, fn);
  const dialog = watch.dialog;
  watch = null;
  if (dialog?.open) dialog.close();
}
