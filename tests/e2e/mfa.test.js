// Second factors and the captcha in a real Chromium against the real binary: sign-up solves the
// proof-of-work captcha in a Web Worker; TOTP is turned on from the account page (QR code,
// confirmation, recovery codes shown once); signing in then asks for a code, refuses a wrong
// one and accepts the app's (computed here with node's HMAC-SHA1) or a recovery code.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { screenshot, visit, waitReady, PHONE } from "./lib/browser.js";
import { waitForLink } from "./lib/mail.js";
import { assertNoProblems, createConfirmedUser, expectText, signIn, totp } from "./lib/helpers.js";

const STUDENT = { email: "tess@north.edu", display_name: "Tess", password: "Cobalt-Ridge-73" };

const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, STUDENT);
});
const { newPage } = suite;

const summary = (page) => page.locator("form .form-summary.is-shown").first();

test("sign up: the captcha is solved in a Web Worker and sent with the registration", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  const bodies = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/api/v1/auth/register") bodies.push(JSON.parse(request.postData()));
  });
  const workers = [];
  page.on("worker", (worker) => workers.push(worker.url()));
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill("una@north.edu");
  await page.getByLabel("Your name").fill("Una");
  await page.getByLabel("Password", { exact: true }).fill("Saffron-Delta-58");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  assert.ok(workers.some((url) => url.endsWith("/assets/js/captcha-worker.js")), `workers: ${workers}`);
  assert.equal(bodies.length, 1);
  assert.match(bodies[0].captcha.challenge, /^[\w-]+\.\d+\.12\.[\w-]+$/);
  assert.match(bodies[0].captcha.nonce, /^\d+$/);
  await waitForLink(suite.server.dataDir, "una@north.edu", "/verify-email");
  assertNoProblems(problems);
});

test("sign up: a spent captcha is replaced by a fresh one and the form still goes through", async () => {
  const { page, problems } = await newPage();
  let first = true;
  // The first registration is answered as if its solution had been used already.
  await page.route("**/api/v1/auth/register", async (route) => {
    if (!first) return route.continue();
    first = false;
    return route.fulfill({
      status: 400,
      contentType: "application/problem+json",
      body: JSON.stringify({ type: "urn:gatehouse:problem:captcha_already_used", title: "Bad Request", status: 400, detail: "used", code: "captcha_already_used" }),
    });
  });
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill("vic@north.edu");
  await page.getByLabel("Your name").fill("Vic");
  await page.getByLabel("Password", { exact: true }).fill("Saffron-Delta-58");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  assertNoProblems(problems);
});

test("two-step sign-in: turn it on with the QR code, then sign in with a code (a wrong one refused)", async () => {
  const { page, problems } = await newPage();
  await signIn(page, STUDENT.email, STUDENT.password, { next: "/account" });
  await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
  const qr = page.getByRole("img", { name: /QR code/ });
  await qr.waitFor();
  assert.match(await qr.getAttribute("src"), /^data:image\/svg\+xml;base64,/);
  const secret = (await page.locator("[data-secret]").textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await screenshot(page, "flow-totp-enrol");

  // A wrong code is refused in plain words.
  await page.getByLabel("Code from your authenticator app").fill("000000");
  await page.getByRole("button", { name: "Turn on", exact: true }).click();
  await expectText(summary(page), /need fixing/);
  const twoStep = page.getByRole("region", { name: "Two-step sign-in" });
  await expectText(twoStep.locator('.field[data-field="code"] .field-error'), /not right/);

  await page.getByLabel("Code from your authenticator app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on", exact: true }).click();
  const codes = page.getByRole("list", { name: "Recovery codes" }).locator("li");
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  const recovery = (await codes.nth(0).textContent()).trim();
  assert.match(recovery, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await screenshot(page, "flow-totp-recovery-codes");
  await page.getByRole("button", { name: "I have saved my recovery codes" }).click();
  await expectText(page.locator("[data-mfa-state]"), /is on\. 10 unused recovery codes left/);

  // Sign out, then in: the password is not enough any more.
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/sign-in");
  await waitReady(page);
  await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Enter your sign-in code" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Enter your sign-in code");
  const session = await page.evaluate(async () => (await fetch("/api/v1/auth/session")).status);
  assert.equal(session, 401, "no session before the second step");

  await page.getByLabel("Code", { exact: true }).fill("123456");
  await page.getByRole("button", { name: "Continue" }).click();
  await expectText(summary(page), /not right or was already used/);
  await screenshot(page, "flow-totp-wrong-code");
  // The next step's code (the current one was spent on confirming): one step of tolerance.
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, 1));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((url) => url.pathname !== "/sign-in");
  await waitReady(page);
  const me = await page.evaluate(async () => (await fetch("/api/v1/auth/session")).json());
  assert.equal(me.user.email, STUDENT.email);

  // A recovery code works too, once.
  const other = await newPage();
  await visit(other.page, "/sign-in");
  await other.page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
  await other.page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await other.page.getByRole("button", { name: "Sign in", exact: true }).click();
  await other.page.getByLabel("Code", { exact: true }).fill(recovery);
  await other.page.getByRole("button", { name: "Continue" }).click();
  await other.page.waitForURL((url) => url.pathname !== "/sign-in");
  assertNoProblems(problems);
  assertNoProblems(other.problems);
});
