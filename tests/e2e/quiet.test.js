// Quiet signed-out pages: a visitor who is not signed in makes no request that fails and the
// console stays empty (no session check without the CSRF cookie, "no policy yet" as a normal
// answer). After signing out, and after a session ended on the server (one 401 to find out),
// pages are quiet again.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { visit } from "./lib/browser.js";
import { createConfirmedUser, signIn } from "./lib/helpers.js";

const STUDENT = { email: "quinn@north.edu", password: "Maple-Lantern-41", display_name: "Quinn" };
const SIGNED_OUT_PAGES = ["/", "/sign-in", "/sign-up", "/forgot-password", "/reset-password", "/verify-email", "/phone", "/privacy-policy"];

const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, STUDENT);
});

/** Visits `path` and waits until the page has made every request it will make. */
async function settledVisit(page, path) {
  await visit(page, path);
  await page.waitForLoadState("networkidle");
}

/** Everything a page does that a person would see in the browser's console. */
function watch(page) {
  const seen = { failed: [], console: [], sessionChecks: 0, policyAnswers: [] };
  page.on("response", (response) => {
    const path = new URL(response.url()).pathname;
    if (response.status() >= 400) seen.failed.push(`${response.status()} ${response.request().method()} ${path}`);
    if (path === "/api/v1/policies/current") seen.policyAnswers.push(response.status());
  });
  page.on("requestfailed", (request) => {
    // A request cut off by the test's next navigation (a module still loading) shows nowhere.
    if (request.failure()?.errorText === "net::ERR_ABORTED") return;
    seen.failed.push(`failed ${request.method()} ${new URL(request.url()).pathname}: ${request.failure()?.errorText}`);
  });
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/v1/auth/session") seen.sessionChecks += 1;
  });
  page.on("console", (message) => {
    if (["error", "warning"].includes(message.type())) seen.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => seen.console.push(`page error: ${error.message}`));
  return seen;
}

test("signed-out pages make no failing request and log nothing", async () => {
  const { page } = await suite.newPage();
  const seen = watch(page);
  for (const path of SIGNED_OUT_PAGES) await settledVisit(page, path);
  assert.deepEqual(seen.failed, []);
  assert.deepEqual(seen.console, []);
  assert.equal(seen.sessionChecks, 0, "no session check without the CSRF cookie");
  // Sign-up shows the policy when there is one: with none published the answer is a 200.
  assert.ok(seen.policyAnswers.length > 0, "the sign-up page asked for the policy");
  assert.ok(seen.policyAnswers.every((status) => status === 200), `policy answers: ${seen.policyAnswers}`);
  const policy = await page.evaluate(async () => (await fetch("/api/v1/policies/current")).json());
  assert.equal(policy.published, false);
  await visit(page, "/privacy-policy");
  await page.getByText("No privacy policy has been published").waitFor();
});

test("after signing out, pages are quiet again", async () => {
  const { page } = await suite.newPage();
  await signIn(page, STUDENT.email, STUDENT.password);
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/sign-in?signed_out=1");
  const seen = watch(page);
  for (const path of SIGNED_OUT_PAGES) await settledVisit(page, path);
  assert.deepEqual(seen.failed, []);
  assert.deepEqual(seen.console, []);
  assert.equal(seen.sessionChecks, 0);
});

test("a session ended on the server costs one 401, then pages are quiet", async () => {
  const ended = await suite.newPage();
  await signIn(ended.page, STUDENT.email, STUDENT.password);
  // From another device, "sign out everywhere else" ends the first session on the server.
  const other = await suite.newPage();
  await signIn(other.page, STUDENT.email, STUDENT.password);
  const status = await other.page.evaluate(async () => {
    const csrf = document.cookie.match(/(?:^|; )gatehouse_csrf=([^;]+)/)?.[1] ?? "";
    const response = await fetch("/api/v1/account/sessions", { method: "DELETE", headers: { "X-CSRF-Token": decodeURIComponent(csrf) } });
    return response.status;
  });
  assert.ok(status < 300, `sign out everywhere else answered ${status}`);

  const seen = watch(ended.page);
  await settledVisit(ended.page, "/");
  assert.deepEqual(seen.failed, ["401 GET /api/v1/auth/session"], "the stale cookie is found out once");
  await ended.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).waitFor();
  seen.failed.length = 0;
  seen.console.length = 0;
  seen.sessionChecks = 0;
  for (const path of SIGNED_OUT_PAGES) await settledVisit(ended.page, path);
  assert.deepEqual(seen.failed, []);
  assert.deepEqual(seen.console, []);
  assert.equal(seen.sessionChecks, 0, "the stale CSRF cookie was dropped");
});
