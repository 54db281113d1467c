// Getting started (admins): what a new installation needs next, for the first admin, whom the
// bootstrap page sends here: turn on two-step sign-in, add a campus, connect an app. Each step
// says whether it is done, as far as the API can tell.

import { api } from "../api.js";
import { h, notice, replace } from "../dom.js";
import { adminNav, guard } from "../admin-common.js";

export const title = "Getting started";

function step({ heading, id, done, status, children }) {
  return h(
    "li",
    { class: "panel start-step" },
    h("h2", { id }, heading),
    h("p", { class: done ? "step-status step-done" : "step-status" }, done ? `Done: ${status}` : status),
    ...children,
  );
}

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/start")) return;
  const [mfa, campuses] = await Promise.allSettled([
    api("GET", "/api/v1/account/mfa"),
    api("GET", "/api/v1/admin/campuses"),
  ]);

  const totpOn = mfa.status === "fulfilled" && mfa.value.totp_enabled;
  const twoStep = step({
    heading: "1. Turn on two-step sign-in",
    id: "step-two-step",
    done: totpOn,
    status: totpOn
      ? "your account asks for a code from your authenticator app."
      : "Not yet: your account is protected by its password alone.",
    children: [
      h(
        "p",
        {},
        "An administrator can change everything, so protect this account with a code from an authenticator app as well as the password. In production mode it is required: every administration page refuses a session that did not sign in with a code.",
      ),
      h("p", {}, h("a", { href: "/account#two-step-heading" }, "Turn on two-step sign-in on your account page")),
    ],
  });

  let campusStatus;
  let campusDone = false;
  if (campuses.status === "fulfilled") {
    campusDone = campuses.value.length > 0;
    campusStatus = campusDone
      ? campuses.value.map((c) => `${c.name} (${c.domains.join(", ")})`).join("; ")
      : "Not yet: no campus, so nobody can sign up.";
  } else if (campuses.reason?.code === "admin_mfa_required") {
    campusStatus = "Turn on two-step sign-in first, then sign out and in again with a code.";
  } else {
    campusStatus = campuses.reason?.message ?? "the campuses could not be loaded.";
  }
  const campus = step({
    heading: "2. Add a campus",
    id: "step-campus",
    done: campusDone,
    status: campusStatus,
    children: [
      h(
        "p",
        {},
        "People sign up with an email address of a campus domain, such as north.edu. Add your campus and its email domains; each domain is matched exactly, so list departments' domains separately.",
      ),
      h("p", {}, h("a", { href: "/admin#new-campus-heading" }, "Add a campus on the administration page")),
    ],
  });

  const app = step({
    heading: "3. Connect an app",
    id: "step-app",
    done: false,
    status: "Gatehouse cannot tell whether an app uses it yet.",
    children: [
      h(
        "p",
        {},
        "Campus apps call the REST API. A web app on this address uses the session cookies; a mobile or server app asks for an API token (POST /api/v1/auth/token) and checks its signature against the public keys at /.well-known/jwks.json.",
      ),
      h(
        "ul",
        { class: "link-list" },
        h("li", {}, h("a", { href: "/docs" }, "The API documentation"), " (every operation, to try in the browser)."),
        h("li", {}, h("a", { href: "/.well-known/jwks.json" }, "The public keys of API tokens"), " (JWK set)."),
        h("li", {}, "The app developers' guide: docs/app-developers.md in the source, or /usr/share/doc/gatehouse/docs/ where the package is installed."),
      ),
    ],
  });

  replace(
    root,
    adminNav("/admin/start"),
    notice("info", h("p", {}, "Gatehouse is running. Three steps make it ready for your campus.")),
    h("ol", { class: "start-steps" }, twoStep, campus, app),
  );
}
