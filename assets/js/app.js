// Gatehouse UI: every page path serves the same shell; this module loads the page's module
// from ./pages/, draws the navigation for who is signed in, and watches the idle timeout.

import { announce, h, notice, replace } from "./dom.js";
import { policyPrompt } from "./privacy.js";
import { isAdmin, isReviewer, loadSession, signOut, startTimeoutWatch, stopTimeoutWatch } from "./session.js";

const routes = {
  "/": "home",
  "/sign-up": "sign-up",
  "/sign-in": "sign-in",
  "/verify-email": "verify-email",
  "/forgot-password": "forgot-password",
  "/reset-password": "reset-password",
  "/account": "account",
  "/admin": "admin",
  "/admin/start": "admin-start",
  "/admin/users": "admin-users",
  "/admin/audit": "admin-audit",
  "/admin/backups": "admin-backups",
  "/admin/apps": "admin-apps",
  "/admin/webhooks": "admin-webhooks",
  "/bootstrap": "bootstrap",
  "/phone": "phone",
  "/privacy-policy": "privacy-policy",
  "/driver": "driver",
  "/driver-reviews": "driver-reviews",
  "/consent": "consent",
  "/sign-out": "sign-out",
  "/device": "device",
};

const path = window.location.pathname.replace(/\/+$/, "") || "/";

/** Sets the page's heading and the window title. */
function setTitle(text) {
  document.getElementById("page-title").textContent = text;
  document.title = `${text} · Gatehouse`;
}

/** Paths inside this UI that a `next` parameter may send someone back to. */
export function safeNext(value, fallback = "/account") {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//")) return fallback;
  const target = value.split(/[?#]/)[0].replace(/\/+$/, "") || "/";
  // An app's sign-in request (OpenID Connect) waiting for the student to sign in.
  if (target === "/oauth/authorize") return value;
  return routes[target] && !["/sign-in", "/sign-up", "/phone", "/bootstrap"].includes(target) ? value : fallback;
}

function navLink(href, text) {
  const current = href === path;
  return h("li", {}, h("a", { href, "aria-current": current ? "page" : null }, text));
}

function renderNav(who) {
  const nav = document.getElementById("nav");
  if (!who) {
    replace(nav, navLink("/sign-in", "Sign in"), navLink("/sign-up", "Create account"));
    return;
  }
  const signOutButton = h("button", { type: "button", class: "nav-button" }, "Sign out");
  signOutButton.addEventListener("click", async () => {
    signOutButton.setAttribute("aria-disabled", "true");
    try {
      await signOut();
      window.location.assign("/sign-in?signed_out=1");
    } catch (error) {
      signOutButton.removeAttribute("aria-disabled");
      announce(error.message);
    }
  });
  replace(
    nav,
    navLink("/account", "Account"),
    navLink("/driver", "Driving"),
    isReviewer(who) ? navLink("/driver-reviews", "Reviews") : null,
    isAdmin(who) ? navLink("/admin", "Admin") : null,
    h("li", {}, signOutButton),
  );
}

async function main() {
  const pageName = routes[path] ?? "not-found";
  const root = document.getElementById("page");
  const [page, who] = await Promise.all([import(`./pages/${pageName}.js`), loadSession()]);
  signedIn = Boolean(who);
  renderNav(who);
  setTitle(page.title ?? "Gatehouse");
  const ctx = {
    who,
    path,
    params: new URLSearchParams(window.location.search),
    setTitle,
    safeNext,
    refreshNav: renderNav,
  };
  replace(root);
  try {
    await page.render(root, ctx);
  } catch (error) {
    console.error(error);
    replace(root, notice("error", h("p", {}, "This page could not be shown. Reload it to try again.")));
  }
  if (who) startTimeoutWatch(who);
  showPendingPolicy(who);
  scrollToFragment();
  document.body.dataset.ready = "true";
}

// A link to a part of a page (/account#two-step-heading): the browser looked for it before the
// page module drew it, so look again now.
function scrollToFragment() {
  const id = decodeURIComponent(window.location.hash.slice(1));
  const target = id ? document.getElementById(id) : null;
  if (!target) return;
  target.scrollIntoView();
  if (target.tabIndex >= 0 || target.hasAttribute("tabindex")) target.focus({ preventScroll: true });
}

// A privacy-policy version published after this session began: asked for above every page
// (the account page asks in its own section; the policy page is what to read first).
function showPendingPolicy(who) {
  if (!who?.policy_acceptance_required || ["/account", "/privacy-policy"].includes(path)) return;
  const slot = h("div", { class: "policy-slot" });
  const prompt = policyPrompt(who.policy_version, async () => {
    replace(slot, notice("success", h("p", {}, `Thank you: you accepted version ${who.policy_version} of the privacy policy.`)));
  });
  replace(slot, prompt.element);
  document.getElementById("main").querySelector("h1").after(slot);
}

// When a request finds the session of a signed-in page gone, say so once and show the
// signed-out navigation. (A 401 while nobody is signed in is no news.)
let signedIn = false;
window.addEventListener("gatehouse:signed-out", () => {
  if (!signedIn) return;
  signedIn = false;
  stopTimeoutWatch();
  renderNav(null);
  const main = document.getElementById("main");
  if (main.querySelector(".session-ended")) return;
  const next = encodeURIComponent(window.location.pathname + window.location.search);
  const box = notice(
    "warning",
    h("p", {}, "Your session has ended. ", h("a", { href: `/sign-in?next=${next}` }, "Sign in again"), " to go on."),
  );
  box.classList.add("session-ended");
  main.querySelector("h1").after(box);
});

// The back/forward cache keeps a page as it was when left, and a sign-out may happen before
// the back button brings it back. So a page that goes into that cache is emptied first (the
// restored copy shows nothing, not even for a moment, and holds no personal data in its DOM),
// and a restored page reloads, asking the server again who is signed in.
window.addEventListener("pagehide", (event) => {
  if (!event.persisted) return;
  stopTimeoutWatch();
  replace(document.getElementById("page"));
  replace(document.getElementById("nav"));
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});

main().catch((error) => {
  console.error(error);
  replace(
    document.getElementById("page"),
    notice("error", h("p", {}, "This page could not be loaded. Check your connection and reload it.")),
  );
});
