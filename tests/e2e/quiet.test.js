// Signed-out pages are quiet: no request answered with an error, nothing in the console. A
// new user who opens the browser's developer tools sees only real problems. (The other test
// files let expected 4xx answers through; these tests count every one.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { visit } from "./lib/browser.js";
import { countRequests, createConfirmedUser, signIn } from "./lib/helpers.js";

const suite = gatehouseSuite();

const SIGNED_OUT_PAGES = [
  "/",
  "/sign-in",
  "/sign-up",
  "/forgot-password",
  "/phone",
  "/privacy-policy",
  "/verify-email",
  "/reset-password",
];

/** A fresh profile whose every error answer, failed request and console message is listed. */
async function watchedPage() {
  const { page, context } = await suite.newPage();
  const noise = [];
  page.on("response", (response) => {
    if (response.status() >= 400) noise.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  page.on("requestfailed", (request) => noise.push(`failed ${request.url()}: ${request.failure()?.errorText}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") noise.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (error) => noise.push(`page error: ${error.message}`));
  const probes = countRequests(page, "/api/v1/auth/session");
  return { page, context, noise, probes };
}

async function settle(page) {
  await page.waitForLoadState("networkidle");
}

test("signed-out pages ask nobody who is signed in and log no failed request", async () => {
  const { page, noise, probes } = await watchedPage();
  for (const path of SIGNED_OUT_PAGES) {
    await visit(page, path);
    await settle(page);
    assert.deepEqual(noise, [], `${path} was not quiet`);
  }
  assert.equal(probes.count, 0, "no session check without a session");
  // The privacy-policy page says there is none yet (a 200 answer, not an error).
  await visit(page, "/privacy-policy");
  await page.getByText("No privacy policy has been published").waitFor();
});

test("after signing out, and after a session ended on the server, pages are quiet again", async () => {
  const email = "quiet@north.edu";
  const password = "Silent-Meadow-64";
  await createConfirmedUser(suite.server, { email, password, display_name: "Quinn" });
  const { page, context, noise, probes } = await watchedPage();
  await signIn(page, email, password);
  assert.equal(probes.count, 1, "a signed-in page asks who is signed in");
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/sign-in?signed_out=1");
  await settle(page);
  const signedOut = probes.count;
  await visit(page, "/");
  await settle(page);
  assert.equal(probes.count, signedOut, "no session check after signing out");
  assert.deepEqual(noise, []);

  // Cookies of a session the server no longer knows (it timed out, or was revoked elsewhere):
  // one check finds out, and forgets the readable cookie, so the next page asks nothing.
  const url = new URL(suite.server.url);
  await context.addCookies([
    { name: "gatehouse_session", value: "ended-session", domain: url.hostname, path: "/", httpOnly: true },
    { name: "gatehouse_csrf", value: "ended-csrf", domain: url.hostname, path: "/" },
  ]);
  await visit(page, "/");
  await settle(page);
  assert.equal(probes.count, signedOut + 1);
  // The 401 answer, and Chromium's own console line about it.
  assert.ok(noise.some((n) => /^401 GET .*\/api\/v1\/auth\/session$/.test(n)), noise.join("\n"));
  assert.ok(noise.every((n) => /auth\/session|status of 401/.test(n)), noise.join("\n"));
  const left = (await context.cookies()).map((c) => c.name);
  assert.ok(!left.includes("gatehouse_csrf"), `the CSRF cookie stayed: ${left}`);
  noise.length = 0;
  await visit(page, "/sign-in");
  await settle(page);
  assert.equal(probes.count, signedOut + 1, "no second check");
  assert.deepEqual(noise, []);
});
