// Passkeys (WebAuthn) in a real Chromium against the real binary, with Chromium's virtual
// authenticator (DevTools protocol, WebAuthn domain) standing in for a phone or laptop: a
// platform authenticator with resident keys and user verification, which answers at once
// (automaticPresenceSimulation). WebAuthn refuses an IP address as the site's id, so this
// server's public_url is http://localhost:<port> and the browser goes there.
//
// Chromium's virtual authenticator also completes a conditional (autofill) request on its own
// as soon as the page makes it, with no focus or pick (WebAuthn.enable without enableUI
// suppresses the account picker and the autofill list): a sign-in page loaded with a passkey
// on the device signs in by autofill straight away. The tests of the button therefore load the
// page as a browser without passkey autofill (isConditionalMediationAvailable answering false,
// as in Firefox before 119), and the autofill test checks the request was conditional.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { screenshot, visit, waitReady } from "./lib/browser.js";
import { mailFiles, waitForLink } from "./lib/mail.js";
import {
  assertNoProblems,
  countRequests,
  createConfirmedUser,
  expectText,
  registerWithoutPassword,
  signIn,
} from "./lib/helpers.js";

const STUDENT = { email: "pia@north.edu", display_name: "Pia", password: "Juniper-Falls-82" };
const UV_STUDENT = { email: "uma@north.edu", display_name: "Uma", password: "Harbour-Light-47" };
const RENAMER = { email: "rui@north.edu", display_name: "Rui", password: "Granite-Bay-19" };

const suite = gatehouseSuite(
  async (server) => {
    for (const student of [STUDENT, UV_STUDENT, RENAMER]) await createConfirmedUser(server, student);
  },
  { publicHost: "localhost" },
);
const { newPage } = suite;

/** A virtual platform authenticator in the page's browser tab: {cdp, id, credentials()}. */
async function addAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    id: authenticatorId,
    credentials: async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials,
  };
}

/** From now on this tab is a browser that offers no passkeys in autofill (see the top). */
async function withoutAutofill(page) {
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

/**
 * Records, in the tab's sessionStorage (kept across its pages), each call of
 * navigator.credentials.get: the page, its `mediation`, and the email field's autocomplete.
 */
async function recordPasskeyRequests(page) {
  await page.addInitScript(() => {
    const get = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options) => {
      const calls = JSON.parse(sessionStorage.getItem("passkey-requests") || "[]");
      calls.push({
        path: window.location.pathname,
        mediation: options?.mediation ?? "optional",
        autocomplete: document.querySelector('input[name="email"]')?.getAttribute("autocomplete") ?? null,
      });
      sessionStorage.setItem("passkey-requests", JSON.stringify(calls));
      return get(options);
    };
  });
}

async function sessionOf(page) {
  return page.evaluate(async () => {
    const res = await fetch("/api/v1/auth/session");
    return { status: res.status, body: res.ok ? await res.json() : null };
  });
}

const passkeysRegion = (page) => page.getByRole("region", { name: "Passkeys" });

/** Adds a passkey called `name` from the account page (signed in recently: no password asked). */
async function addPasskey(page, name) {
  const section = passkeysRegion(page);
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await section.getByLabel("Name for this passkey").fill(name);
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await expectText(section.locator(".form-result"), new RegExp(`“${name}” is added`));
}

async function signOut(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/sign-in");
  await waitReady(page);
}

test("a student adds a passkey on the account page, signs out and signs in with it, no email typed", async () => {
  const { context, page, problems } = await newPage();
  const device = await addAuthenticator(context, page);
  await signIn(page, STUDENT.email, STUDENT.password, { next: "/account" });
  await addPasskey(page, "Laptop");
  const item = passkeysRegion(page).locator("li.passkey");
  assert.equal(await item.count(), 1);
  await expectText(item.locator("h3"), /^Laptop$/);
  await expectText(item.locator("dl"), /Last used\s*Not yet/);
  await screenshot(page, "passkeys-account-added");

  const credentials = await device.credentials();
  assert.equal(credentials.length, 1, "one credential on the authenticator");
  assert.equal(credentials[0].isResidentCredential, true, "a discoverable (resident) credential");
  assert.equal(credentials[0].rpId, "localhost");

  // The same device again: the browser is told which passkeys the account has (excludeCredentials)
  // and refuses to make a second one there.
  const section = passkeysRegion(page);
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await section.getByLabel("Name for this passkey").fill("Laptop again");
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await expectText(section.locator("form .form-summary.is-shown"), /already has a passkey for your account/);
  assert.equal((await device.credentials()).length, 1);
  await section.getByRole("button", { name: "Cancel" }).click();

  await withoutAutofill(page);
  await signOut(page);
  assert.equal((await sessionOf(page)).status, 401);
  const passkeySignIns = countRequests(page, "/api/v1/auth/passkey", "POST");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account");
  await waitReady(page);
  assert.equal(passkeySignIns.count, 1);
  const session = await sessionOf(page);
  assert.equal(session.status, 200);
  assert.equal(session.body.user.email, STUDENT.email);
  // The list now says when it was last used.
  await expectText(passkeysRegion(page).locator("li.passkey dl"), /Last used\s*just now/);
  assertNoProblems(problems);
});

test("sign in by autofill: the sign-in page's conditional request completes with the device's passkey", async () => {
  const { context, page, problems } = await newPage();
  await addAuthenticator(context, page);
  await signIn(page, STUDENT.email, STUDENT.password, { next: "/account" });
  await addPasskey(page, "Desktop");

  await recordPasskeyRequests(page);
  const passkeySignIns = countRequests(page, "/api/v1/auth/passkey", "POST");
  const signedIn = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/auth/passkey",
  );
  // Signed out, the sign-in page loads and asks for passkeys in the email field's autofill;
  // the virtual authenticator answers, and the page goes on to the account with nothing
  // clicked or typed.
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  assert.equal((await signedIn).status(), 200);
  await page.waitForURL((url) => url.pathname === "/account");
  await waitReady(page);
  assert.equal(passkeySignIns.count, 1);
  const requests = await page.evaluate(() => JSON.parse(sessionStorage.getItem("passkey-requests") || "[]"));
  assert.deepEqual(requests, [{ path: "/sign-in", mediation: "conditional", autocomplete: "username webauthn" }]);
  const session = await sessionOf(page);
  assert.equal(session.status, 200);
  assert.equal(session.body.user.email, STUDENT.email);
  assertNoProblems(problems);
});

test("a device that cannot confirm it is the student: the passkey sign-in is refused and no session begins", async () => {
  const { context, page, problems } = await newPage();
  const device = await addAuthenticator(context, page);
  await signIn(page, UV_STUDENT.email, UV_STUDENT.password, { next: "/account" });
  await addPasskey(page, "Tablet");
  await withoutAutofill(page);
  await signOut(page);

  await device.cdp.send("WebAuthn.setUserVerified", { authenticatorId: device.id, isUserVerified: false });
  const passkeySignIns = countRequests(page, "/api/v1/auth/passkey", "POST");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  const alert = page.locator(".passkey-result");
  await expectText(alert, /(could not confirm it was you|did not confirm it was you)/);
  await screenshot(page, "passkeys-sign-in-refused");
  assert.equal(page.url().includes("/sign-in"), true);
  assert.equal((await sessionOf(page)).status, 401, "no session");
  // The server asks for user verification ("required"), so Chromium refuses in the browser
  // (NotAllowedError) and nothing is sent to sign in with.
  assert.equal(passkeySignIns.count, 0);

  // The device confirms again: the same button now works.
  await device.cdp.send("WebAuthn.setUserVerified", { authenticatorId: device.id, isUserVerified: true });
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account");
  assert.equal((await sessionOf(page)).status, 200);
  assertNoProblems(problems);
});

/**
 * Signs up at /sign-up choosing a passkey, opens the emailed link, adds the passkey called
 * `name` and signs in with it; resolves on the account page.
 */
async function passkeyOnlySignUp(page, email, name) {
  const ignore = mailFiles(suite.server.dataDir);
  const bodies = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/v1/auth/register") bodies.push(JSON.parse(request.postData()));
  });
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill(email);
  await page.getByLabel("Your name").fill("Noor");
  await page.getByLabel("Use a passkey instead").check();
  assert.equal(await page.getByLabel("Password", { exact: true }).isVisible(), false, "no password field");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  assert.equal(bodies.length, 1);
  assert.equal("password" in bodies[0], false, "no password sent");

  const link = await waitForLink(suite.server.dataDir, email, "/verify-email", { ignore });
  assert.ok(link.startsWith(suite.server.url), `the link goes to ${suite.server.url}: ${link}`);
  await page.goto(link);
  await waitReady(page);
  await page.getByRole("heading", { name: "Your email address is confirmed" }).waitFor();
  await page.getByRole("button", { name: "Set a password instead" }).waitFor();
  await page.getByLabel("Name for this passkey").fill(name);
  await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
  await page.getByRole("heading", { name: "Passkey added" }).waitFor();
  await screenshot(page, "passkeys-setup-added");
  await page.getByRole("button", { name: "Sign in with your passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account");
  await waitReady(page);
}

test("a passkey-only account: sign up choosing a passkey, add it from the emailed link, sign in with it", async () => {
  const { context, page, problems } = await newPage();
  const device = await addAuthenticator(context, page);
  await passkeyOnlySignUp(page, "noor@north.edu", "Phone");
  const session = await sessionOf(page);
  assert.equal(session.status, 200);
  assert.equal(session.body.user.email, "noor@north.edu");
  const list = await page.evaluate(async () => (await fetch("/api/v1/account/passkeys")).json());
  assert.equal(list.has_password, false);
  assert.deepEqual(list.passkeys.map((p) => p.name), ["Phone"]);
  // No password to change, and none asked for before deleting the account.
  await expectText(page.getByRole("region", { name: "Password", exact: true }), /has no password/);
  const deletion = page.getByRole("form", { name: "Delete your account" });
  await expectText(deletion, /has no password/);
  assert.equal(await deletion.getByLabel("Your password", { exact: true }).count(), 0);
  await screenshot(page, "passkeys-account-without-password");
  assert.equal((await device.credentials()).length, 1);

  // Signed out, the passkey signs in again (the button, autofill off).
  await withoutAutofill(page);
  await signOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account");
  await waitReady(page);
  assert.equal((await sessionOf(page)).body.user.email, "noor@north.edu");

  // Another passkey, later: with no password to give, the page asks to sign in again (the
  // server's 403 for a session over 5 minutes old is simulated) and comes back here.
  await page.route("**/api/v1/account/passkeys/options", (route) =>
    route.fulfill({
      status: 403,
      contentType: "application/problem+json",
      body: JSON.stringify({ type: "urn:gatehouse:problem:reauthentication_required", title: "Forbidden", status: 403, detail: "Sign in again.", code: "reauthentication_required" }),
    }),
  );
  const section = passkeysRegion(page);
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await section.getByRole("link", { name: "sign in again" }).click();
  await page.waitForURL((url) => url.pathname === "/sign-in");
  await waitReady(page);
  await expectText(page.locator(".arrival"), /sign in again to go on/);
  await page.unroute("**/api/v1/account/passkeys/options");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account" && url.hash === "#passkeys-heading");
  await waitReady(page);
  assertNoProblems(problems);
});

test("rename and remove on the account page; the last way into an account is not removed", async () => {
  // An account with a password: rename, then remove its passkey.
  const first = await newPage();
  await addAuthenticator(first.context, first.page);
  await signIn(first.page, RENAMER.email, RENAMER.password, { next: "/account" });
  await addPasskey(first.page, "Work laptop");
  let section = passkeysRegion(first.page);
  await section.getByRole("button", { name: "Rename Work laptop" }).click();
  const rename = section.getByRole("form", { name: "Rename Work laptop" });
  await rename.getByLabel("Name for this passkey").fill("");
  await rename.getByRole("button", { name: "Save name" }).click();
  await expectText(rename.locator(".form-summary.is-shown"), /need fixing/);
  await rename.getByLabel("Name for this passkey").fill("Home laptop");
  await rename.getByRole("button", { name: "Save name" }).click();
  await expectText(section.locator(".form-result"), /now called “Home laptop”/);
  await expectText(section.locator("li.passkey h3"), /^Home laptop$/);
  await section.getByRole("button", { name: "Remove Home laptop" }).click();
  await screenshot(first.page, "passkeys-remove-confirm");
  await section.getByRole("button", { name: "Yes, remove Home laptop" }).click();
  await expectText(section.locator(".form-result"), /“Home laptop” is removed/);
  assert.equal(await section.locator("li.passkey").count(), 0);
  await expectText(section, /You have no passkeys yet/);
  // The device still holds it, but the server no longer accepts it (401 passkey_not_accepted).
  await withoutAutofill(first.page);
  await signOut(first.page);
  await first.page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectText(first.page.locator(".passkey-result"), /not accepted\. It may have been removed from your account/);
  assert.equal((await sessionOf(first.page)).status, 401);
  assertNoProblems(first.problems);

  // A passkey-only account: its one passkey is its only way in.
  const second = await newPage();
  await addAuthenticator(second.context, second.page);
  await passkeyOnlySignUp(second.page, "omar@north.edu", "Phone");
  section = passkeysRegion(second.page);
  await section.getByRole("button", { name: "Remove Phone" }).click();
  const refused = second.page.waitForResponse(
    (r) => r.request().method() === "DELETE" && new URL(r.url()).pathname.startsWith("/api/v1/account/passkeys/"),
  );
  await section.getByRole("button", { name: "Yes, remove Phone" }).click();
  const answer = await refused;
  assert.equal(answer.status(), 409);
  const problem = await answer.json();
  assert.equal(problem.code, "last_sign_in_method");
  const alert = section.locator('.confirm [role="alert"]');
  await expectText(alert, new RegExp(problem.detail.slice(0, 30).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  await screenshot(second.page, "passkeys-last-sign-in-method");
  assert.equal(await section.locator("li.passkey").count(), 1, "still listed");
  assertNoProblems(second.problems);
});

test("adding a passkey asks for the password again when the session is not recent", async () => {
  const { context, page, problems } = await newPage();
  await addAuthenticator(context, page);
  await signIn(page, RENAMER.email, RENAMER.password, { next: "/account" });
  // The session here is a minute old, not five, and the server does not look at a password
  // it does not need: its first two answers are replaced by those an older session gets
  // (403 without the password, 422 on `password` for a wrong one).
  const sent = [];
  const simulated = [
    { status: 403, code: "reauthentication_required", detail: "Enter your password again." },
    { status: 422, code: "validation_failed", detail: "Some fields are not valid.", errors: [{ field: "password", message: "This is not your current password." }] },
  ];
  await page.route("**/api/v1/account/passkeys/options", async (route) => {
    sent.push(JSON.parse(route.request().postData() || "{}"));
    const answer = simulated.shift();
    if (!answer) return route.continue();
    return route.fulfill({
      status: answer.status,
      contentType: "application/problem+json",
      body: JSON.stringify({ type: `urn:gatehouse:problem:${answer.code}`, title: "Refused", ...answer }),
    });
  });
  const section = passkeysRegion(page);
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await section.getByLabel("Name for this passkey").fill("Study room PC");
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await section.getByLabel("Your password", { exact: true }).waitFor();
  await screenshot(page, "passkeys-password-again");
  // A wrong password: the 422 on `password`, shown next to the field.
  await section.getByLabel("Your password", { exact: true }).fill("Not-The-Password-1");
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await expectText(section.locator('.field[data-field="password"] .field-error'), /not your current password/);
  await section.getByLabel("Your password", { exact: true }).fill(RENAMER.password);
  await section.getByRole("button", { name: "Create the passkey" }).click();
  await expectText(section.locator(".form-result"), /“Study room PC” is added/);
  assert.deepEqual(sent, [{}, { password: "Not-The-Password-1" }, { password: RENAMER.password }]);
  assertNoProblems(problems);
});

test("the reset link offers to add a passkey instead of a password", async () => {
  const { context, page, problems } = await newPage();
  const device = await addAuthenticator(context, page);
  const ignore = mailFiles(suite.server.dataDir);
  await visit(page, "/forgot-password");
  await page.getByLabel("Email", { exact: false }).first().fill(UV_STUDENT.email);
  await page.getByRole("button", { name: "Email me a reset link" }).click();
  const link = await waitForLink(suite.server.dataDir, UV_STUDENT.email, "/reset-password", { ignore });
  await page.goto(link);
  await waitReady(page);
  await page.getByRole("button", { name: "Add a passkey instead" }).click();
  await page.getByLabel("Name for this passkey").fill("Recovered phone");
  await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
  await page.getByRole("heading", { name: "Passkey added" }).waitFor();
  assert.equal((await device.credentials()).length, 1);
  await page.getByRole("button", { name: "Sign in with your passkey" }).click();
  await page.waitForURL((url) => url.pathname === "/account");
  assert.equal((await sessionOf(page)).body.user.email, UV_STUDENT.email);
  assertNoProblems(problems);
});

test("an account made without a password may set one instead, from the confirmation page", async () => {
  const { page, problems } = await newPage();
  const link = await registerWithoutPassword(suite.server, { email: "ivy@north.edu", display_name: "Ivy" });
  await page.goto(link);
  await waitReady(page);
  await page.getByRole("button", { name: "Set a password instead" }).click();
  await page.getByLabel("New password", { exact: true }).fill("Saffron-Delta-58");
  await page.getByRole("button", { name: "Save the password" }).click();
  await page.getByRole("heading", { name: "Your password is set" }).waitFor();
  await signIn(page, "ivy@north.edu", "Saffron-Delta-58");
  assert.equal((await sessionOf(page)).body.user.email, "ivy@north.edu");
  assertNoProblems(problems);
});

test("a server that cannot offer passkeys (404 passkeys_unavailable): the sign-in page hides them", async () => {
  const { page, problems } = await newPage();
  // What a server whose public_url is an IP address answers, seen from a page at a host name.
  await page.route("**/api/v1/auth/passkey/options", (route) =>
    route.fulfill({
      status: 404,
      contentType: "application/problem+json",
      body: JSON.stringify({ type: "urn:gatehouse:problem:passkeys_unavailable", title: "Not Found", status: 404, detail: "Passkeys are not offered here.", code: "passkeys_unavailable" }),
    }),
  );
  await visit(page, "/sign-in");
  // The autofill's request is the first to hear it.
  await page.locator(".passkey-sign-in").waitFor({ state: "hidden" });
  assert.equal(await page.getByRole("button", { name: "Sign in with a passkey" }).count(), 0);
  assert.equal(await page.locator('input[name="email"]').getAttribute("autocomplete"), "username");
  assertNoProblems(problems);
});

test("a browser without WebAuthn: no passkey controls, and a line saying so", async () => {
  const { page, problems } = await newPage();
  await page.addInitScript(() => {
    delete window.PublicKeyCredential;
  });
  await visit(page, "/sign-in");
  await expectText(page.locator(".passkey-sign-in"), /This browser cannot use passkeys/);
  assert.equal(await page.getByRole("button", { name: "Sign in with a passkey" }).count(), 0);
  assert.equal(await page.locator('input[name="email"]').getAttribute("autocomplete"), "username");
  await visit(page, "/sign-up");
  assert.equal(await page.getByLabel("Use a passkey instead").count(), 0);
  await signIn(page, STUDENT.email, STUDENT.password, { next: "/account" });
  const section = passkeysRegion(page);
  await expectText(section, /This browser cannot use passkeys/);
  assert.equal(await section.getByRole("button", { name: "Add a passkey" }).count(), 0);
  // The list (from the earlier tests) is still there to rename or remove from.
  await section.locator("li.passkey").first().waitFor();
  assertNoProblems(problems);
});
