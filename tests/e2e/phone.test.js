// Phone codes in a real Chromium against the real binary: adding a phone on the account page
// with a code read from <data_dir>/sms.jsonl, then signing in on /phone with a new code; bad
// numbers and a wrong code; the countdown before "Send a new code" (Playwright's fake clock in
// the page; the server's own cooldown is real time and answers 429 with Retry-After); a phone
// verified on another account (simulated); asking for a code after the session ended.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { screenshot, visit, waitReady, PHONE } from "./lib/browser.js";
import { smsCount, waitForCode } from "./lib/sms.js";
import { assertNoProblems, countRequests, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const STUDENT = { email: "pat@north.edu", password: "Silver-Meadow-27", display_name: "Pat Phone" };
// Written as a person would; the server stores (and texts) E.164.
const MOBILE = { typed: "+91 98765 43210", e164: "+919876543210" };

const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, STUDENT);
});
const { newPage } = suite;

const fieldError = (scope, name) => scope.locator(`.field[data-field="${name}"] .field-error`).first();
const focusedName = (page) =>
  page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.textContent?.trim());
/** The seconds in "You can ask for a new code in N seconds." */
async function secondsLeft(scope) {
  const text = await expectText(scope.locator(".countdown"), /new code in \d+ seconds/);
  return Number(text.match(/in (\d+) seconds/)[1]);
}

test("phone sign-in: a bad number and a wrong code are refused in plain words", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  const requests = countRequests(page, "/api/v1/auth/otp/request");
  const verifies = countRequests(page, "/api/v1/auth/otp/verify");
  await visit(page, "/phone");
  assert.equal(await page.title(), "Sign in with your phone · Gatehouse");
  const number = page.getByLabel("Mobile number");
  assert.equal(await number.getAttribute("type"), "tel");
  assert.equal(await number.getAttribute("autocomplete"), "tel");
  await expectText(page.locator(".field[data-field=phone] .hint"), /country code, for example \+91/);
  const send = page.getByRole("button", { name: "Send me a code" });

  // Refused in the page: empty, then letters.
  await send.click();
  await expectText(fieldError(page, "phone"), /Enter your mobile number/);
  await number.fill("call me");
  await send.click();
  await expectText(fieldError(page, "phone"), /mobile number such as \+91 98765 43210/);
  assert.equal(requests.count, 0);
  // Refused by the server: not a mobile number.
  await number.fill("123456");
  await send.click();
  await expectText(page.locator("form .form-summary.is-shown"), /need fixing/);
  await expectText(fieldError(page, "phone"), /mobile number such as/);
  assert.equal(await number.getAttribute("aria-invalid"), "true");
  assert.equal(requests.count, 1);

  // A number no account has: the same answer as any other (no SMS goes out, nothing says so).
  await number.fill("+91 98765 43211");
  await send.click();
  const code = page.getByLabel("Code from the SMS");
  await code.waitFor();
  await expectText(page.locator(".code-notice"), /If \+91 98765 43211 is verified on a Gatehouse account, a code is on its way/);
  assert.equal(await focusedName(page), "code", "the code field has the focus");
  assert.equal(await code.getAttribute("inputmode"), "numeric");
  assert.equal(await code.getAttribute("autocomplete"), "one-time-code");
  assert.ok(await number.isHidden());

  const signInButton = page.getByRole("button", { name: "Sign in", exact: true });
  await signInButton.click();
  await expectText(fieldError(page, "code"), /Enter the 6-digit code/);
  await code.fill("12345");
  await signInButton.click();
  await expectText(fieldError(page, "code"), /Enter the 6 digits/);
  assert.equal(verifies.count, 0);

  await code.fill("123 456"); // pasted with a space: sent as 123456
  await signInButton.click();
  const summary = page.locator("form .form-summary.is-shown");
  await expectText(summary, /That code did not work\. Check the 6 digits in the newest SMS/);
  assert.equal(await summary.getAttribute("role"), "alert");
  await expectText(fieldError(page, "code"), /not right, has expired or was already used/);
  assert.equal(await code.getAttribute("aria-invalid"), "true");
  assert.equal(await focusedName(page), "code", "back in the code field to type it again");
  assert.equal(verifies.count, 1);
  assert.equal(new URL(page.url()).pathname, "/phone");
  await screenshot(page, "flow-phone-wrong-code-phone");

  // Another number: back to the first step, the number kept.
  await page.getByRole("button", { name: "Use a different number" }).click();
  assert.equal(await focusedName(page), "phone");
  assert.equal(await number.inputValue(), "+91 98765 43211");
  assertNoProblems(problems);
});

test("phone sign-in: 'Send a new code' waits for a visible countdown", async () => {
  const { context, page, problems } = await newPage();
  await context.clock.install();
  const resends = countRequests(page, "/api/v1/auth/otp/resend");
  await visit(page, "/phone");
  await page.getByLabel("Mobile number").fill("+91 98765 43212");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByLabel("Code from the SMS").waitFor();

  const countdown = page.locator(".countdown");
  const resend = page.getByRole("button", { name: "Send a new code" });
  await expectText(countdown, /You can ask for a new code in 60 seconds\./);
  assert.equal(await resend.getAttribute("aria-disabled"), "true");
  // The button says why it waits.
  const describedBy = await resend.getAttribute("aria-describedby");
  assert.equal(await countdown.getAttribute("id"), describedBy);

  await page.clock.fastForward("00:25");
  await expectText(countdown, /in 35 seconds/);
  // Too early: nothing is sent, and the wait is said again. (The button is aria-disabled,
  // not disabled: it keeps the focus, and a keyboard press on it still gets an answer.)
  await resend.focus();
  await page.keyboard.press("Enter");
  await page.clock.runFor(100);
  await expectText(page.locator("#announcer"), /You can ask for a new code in 35 seconds/);
  assert.equal(resends.count, 0);
  await page.clock.fastForward("00:34");
  await expectText(countdown, /in 1 second\./);
  await page.clock.fastForward("00:01");
  await expectText(countdown, /You can ask for a new one now/);
  assert.equal(await resend.getAttribute("aria-disabled"), null);
  await screenshot(page, "flow-phone-resend-desktop");

  // The page's minute passed on the fake clock, the server's did not: it answers 429 with
  // Retry-After, which the page says in words and counts down from.
  await resend.click();
  await expectText(page.locator(".live-result [role=alert]"), /No new code was sent.*You can ask again in \d+ seconds/);
  assert.equal(resends.count, 1);
  const left = await secondsLeft(page);
  assert.ok(left > 30 && left <= 60, `the countdown follows Retry-After (${left} s)`);
  assert.equal(await resend.getAttribute("aria-disabled"), "true");
  await page.clock.fastForward(left * 1000);
  await expectText(countdown, /You can ask for a new one now/);
  assertNoProblems(problems);
});

test("account: add a phone with a code by SMS, then sign in on /phone with a new code", async () => {
  const { page, problems } = await newPage();
  await signIn(page, STUDENT.email, STUDENT.password);
  assert.equal(new URL(page.url()).pathname, "/account");
  const section = page.getByRole("region", { name: "Phone" });
  await expectText(section, /Add a mobile number to sign in with a code/);

  const sent = smsCount(suite.server.dataDir);
  await section.getByLabel("Mobile number").fill(MOBILE.typed);
  await section.getByRole("button", { name: "Send me a code" }).click();
  await expectText(section.locator(".code-notice"), /A code is on its way to \+91 98765 43210 by SMS/);
  assert.equal(await focusedName(page), "code");
  const linkCode = await waitForCode(suite.server.dataDir, MOBILE.e164, { after: sent });
  await section.getByLabel("Code from the SMS").fill(linkCode);
  await section.getByRole("button", { name: "Verify phone" }).click();
  await expectText(section.locator(".live-result"), /\+919876543210 is verified\. You can now sign in with a code sent to it/);
  await expectText(section.locator(".facts"), /\+919876543210\s*Verified/);
  assert.equal(await focusedName(page), "Phone", "the focus goes back to the section's heading");
  const who = await (await page.request.get("/api/v1/auth/session")).json();
  assert.equal(who.user.phone, MOBILE.e164);
  assert.equal(who.user.phone_verified, true);
  await page.reload();
  await waitReady(page);
  await expectText(section.locator(".facts"), /\+919876543210\s*Verified/);
  await screenshot(page, "flow-account-phone-desktop");
  // "Use a different phone" opens the number step; "Cancel" closes it, the focus back on the button.
  const other = section.getByRole("button", { name: "Use a different phone" });
  await other.click();
  assert.equal(await focusedName(page), "phone");
  await section.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await section.getByLabel("Mobile number").count(), 0);
  assert.equal(await focusedName(page), "Use a different phone");

  // Sign out, and sign in with the phone.
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in\?signed_out=1$/);
  await waitReady(page);
  await page.getByRole("link", { name: "Sign in with a code sent to your phone" }).click();
  await page.waitForURL(/\/phone$/);
  await waitReady(page);
  const resent = smsCount(suite.server.dataDir);
  await page.getByLabel("Mobile number").fill(MOBILE.typed);
  await page.getByRole("button", { name: "Send me a code" }).click();

  // The code for linking went out seconds ago and a phone gets one code a minute: the server
  // answers 429, and the page offers the code step with a countdown from Retry-After. There is
  // no other way to a new code than to wait for it (the server's clock is real time).
  await expectText(page.locator(".code-notice"), /cannot send another code to \+91 98765 43210 yet/);
  const left = await secondsLeft(page);
  assert.ok(left > 0 && left <= 60, `a countdown from Retry-After (${left} s)`);
  const resend = page.getByRole("button", { name: "Send a new code" });
  await page.waitForFunction(
    () => !document.querySelector(".resend")?.hasAttribute("aria-disabled"),
    null,
    { timeout: (left + 15) * 1000, polling: 250 },
  );
  await resend.click();
  await expectText(page.locator(".live-result"), /A new code is on its way to \+91 98765 43210/);
  const signInCode = await waitForCode(suite.server.dataDir, MOBILE.e164, { after: resent });
  assert.notEqual(signInCode, linkCode);
  await page.getByLabel("Code from the SMS").fill(signInCode);
  await page.getByLabel("Keep me signed in on this device").check();
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/account$/);
  await waitReady(page);
  await expectText(page.locator(".facts").first(), /pat@north\.edu/);
  await expectText(page.locator(".session-list"), /This device/);
  await expectText(page.locator(".session-list"), /Kept signed in until/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).waitFor();
  assertNoProblems(problems);
});

test("account: a phone typed at sign-up is shown as not verified, ready to verify", async () => {
  const lee = { email: "lee@north.edu", password: "Maple-Harbour-64", display_name: "Lee", phone: "98765 43215" };
  await createConfirmedUser(suite.server, lee);
  const { page, problems } = await newPage({ viewport: PHONE });
  await signIn(page, lee.email, lee.password);
  const section = page.getByRole("region", { name: "Phone" });
  // Stored in E.164 (read in the default region, India, as it has no +).
  await expectText(section.locator(".facts"), /\+919876543215\s*Not verified/);
  await expectText(section, /Verify this number to sign in with a code/);
  assert.equal(await section.getByLabel("Mobile number").inputValue(), "+919876543215");
  await section.getByRole("button", { name: "Send me a code" }).waitFor();
  await screenshot(page, "flow-account-phone-unverified-phone");
  assertNoProblems(problems);
});

test("phone sign-in while signed in points to the account page", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  await signIn(page, STUDENT.email, STUDENT.password);
  await visit(page, "/phone");
  await expectText(page.locator("main"), /already signed in as pat@north\.edu/);
  assert.equal(await page.getByLabel("Mobile number").count(), 0);
  assertNoProblems(problems);
});

// 409 phone_taken needs a second account and a new code for a number already verified (a
// minute of cooldown per number); the page's words for it are checked with a simulated answer.
test("account: a phone verified on another account is refused in plain words", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  await signIn(page, STUDENT.email, STUDENT.password);
  await page.route("**/api/v1/auth/otp/request", (route) =>
    route.fulfill({ status: 202, contentType: "application/json", body: JSON.stringify({ status: "accepted" }) }),
  );
  await page.route("**/api/v1/auth/otp/verify", (route) =>
    route.fulfill({
      status: 409,
      contentType: "application/problem+json",
      body: JSON.stringify({
        type: "urn:gatehouse:problem:phone_taken",
        title: "Conflict",
        status: 409,
        detail: "This phone number is already verified on another account.",
        code: "phone_taken",
      }),
    }),
  );
  const section = page.getByRole("region", { name: "Phone" });
  await section.getByRole("button", { name: "Use a different phone" }).click();
  await section.getByLabel("Mobile number").fill("+91 98765 43213");
  await section.getByRole("button", { name: "Send me a code" }).click();
  await section.getByLabel("Code from the SMS").fill("654321");
  await section.getByRole("button", { name: "Verify phone" }).click();
  await expectText(
    section.locator("form .form-summary.is-shown"),
    /\+91 98765 43213 is already verified on another Gatehouse account.*Use a different number/,
  );
  // Nothing changed.
  await expectText(section.locator(".facts"), /\+919876543210\s*Verified/);
  assertNoProblems(problems);
});

test("account: asking for a code after the session ended says so, and asks for nothing", async () => {
  const { context, page, problems } = await newPage();
  const requests = countRequests(page, "/api/v1/auth/otp/request");
  await signIn(page, STUDENT.email, STUDENT.password);
  const section = page.getByRole("region", { name: "Phone" });
  await section.getByRole("button", { name: "Use a different phone" }).click();
  // The session ends elsewhere (signed out on the server; the cookie stays in this browser).
  const csrf = (await context.cookies()).find((c) => c.name === "gatehouse_csrf")?.value ?? "";
  const out = await page.request.post("/api/v1/auth/logout", { headers: { "X-CSRF-Token": csrf, Origin: suite.server.url } });
  assert.equal(out.status(), 204, await out.text());
  await section.getByLabel("Mobile number").fill("+91 98765 43214");
  await section.getByRole("button", { name: "Send me a code" }).click();
  await expectText(section.locator("form .form-summary.is-shown"), /not signed in, or your session has ended/);
  await expectText(page.locator(".session-ended"), /Your session has ended/);
  assert.equal(requests.count, 0);
  assertNoProblems(problems);
});
