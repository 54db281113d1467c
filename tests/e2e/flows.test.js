// Every flow of the web UI in a real Chromium against the real binary: sign up, confirm by the
// emailed link, sign in, account (profile, sessions, password), the idle-timeout warning, sign
// out, forgot/reset password, the first admin and campus administration. Bad input too: empty
// forms, weak passwords, wrong passwords, double clicks, the back button after sign-out.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { axeViolations, launch, openPage, screenshot, visit, waitReady, PHONE } from "./lib/browser.js";
import { mailFiles, waitForLink } from "./lib/mail.js";
import { assertNoProblems, countRequests, expectText, signIn } from "./lib/helpers.js";

const STUDENT = { email: "sam@north.edu", name: "Sam Student", password: "Blue-Harbour-42" };
const NEW_PASSWORD = "Quiet-Lantern-77";
const RESET_PASSWORD = "Amber-Orchard-93";
const ADMIN = { email: "it@north.edu", name: "Campus IT", password: "Granite-Signal-58" };

const suite = gatehouseSuite();
const { newPage } = suite;

const summary = (page) => page.locator("form .form-summary.is-shown").first();
const fieldError = (page, name) => page.locator(`.field[data-field="${name}"] .field-error`).first();

test("sign up: an empty form is refused in the page, with no request", async () => {
  const { page, problems } = await newPage();
  const register = countRequests(page, "/api/v1/auth/register");
  await visit(page, "/sign-up");
  assert.equal(await page.title(), "Create an account · Gatehouse");
  await page.getByRole("button", { name: "Create account" }).click();
  await expectText(summary(page), /need fixing/);
  // The summary is announced: it is an alert (an assertive live region) holding the text.
  const alert = page.getByRole("alert").filter({ hasText: /need fixing/ });
  assert.equal(await alert.count(), 1, "the error summary is announced as an alert");
  await expectText(alert, /need fixing.*Campus email/);
  await expectText(fieldError(page, "email"), /Enter your campus email address/);
  await expectText(fieldError(page, "display_name"), /Enter the name other people will see/);
  await expectText(fieldError(page, "password"), /Choose a password/);
  assert.equal(await page.getByLabel("Campus email").getAttribute("aria-invalid"), "true");
  // The summary links to each field.
  await summary(page).getByRole("link", { name: /Campus email/ }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.name), "email");
  assert.equal(register.count, 0);
  assertNoProblems(problems);
});

test("sign up: a weak password gets the meter's verdict and the policy's reason", async () => {
  const { page, problems } = await newPage();
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill(STUDENT.email);
  await page.getByLabel("Your name").fill(STUDENT.name);
  await page.getByLabel("Password", { exact: true }).fill("sam12345");
  await expectText(page.locator(".strength-text"), /Password strength: (Very weak|Weak)/);
  await page.getByRole("button", { name: "Create account" }).click();
  await expectText(fieldError(page, "password"), /\w/);
  await expectText(summary(page), /need fixing/);
  // A strong one turns the meter green.
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await expectText(page.locator(".strength-text"), /Strong|Very strong/);
  await expectText(page.locator(".strength-text"), /meets the rules/);
  assertNoProblems(problems);
});

test("sign up: a non-campus email is refused in plain words", async () => {
  const { page, problems } = await newPage();
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill("sam@gmail.com");
  await page.getByLabel("Your name").fill(STUDENT.name);
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expectText(summary(page), /campus email address/);
  assertNoProblems(problems);
});

test("sign up: a double click sends one request, then 'check your email'", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  const register = countRequests(page, "/api/v1/auth/register");
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill(STUDENT.email);
  await page.getByLabel("Your name").fill(STUDENT.name);
  await page.getByLabel("Legal name").fill("Samuel Student");
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await page.getByRole("button", { name: "Create account" }).dblclick();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await expectText(page.locator("main"), /sam@north\.edu/);
  assert.equal(register.count, 1);
  await screenshot(page, "flow-sign-up-sent-phone");
  assertNoProblems(problems);
});

test("sign in before confirming: told to confirm, and can ask for a new link", async () => {
  const { page, problems } = await newPage();
  await visit(page, "/sign-in");
  await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectText(summary(page), /Confirm your email address first/);
  await page.getByRole("button", { name: "Send the link again" }).click();
  await expectText(page.locator(".resend .notice-success"), /new link is on its way/);
  assertNoProblems(problems);
});

test("confirm the email with the emailed link (once)", async () => {
  const link = await waitForLink(suite.server.dataDir, STUDENT.email, "/verify-email");
  const { page, problems } = await newPage();
  await page.goto(link);
  await waitReady(page);
  await page.getByRole("heading", { name: "Your email address is confirmed" }).waitFor();
  assert.equal(new URL(page.url()).search, "", "the token is removed from the address bar");
  await page.goto(link);
  await waitReady(page);
  await expectText(page.locator("main"), /already been used/);
  // A made-up token is refused and a new link is offered.
  await visit(page, "/verify-email?token=not-a-real-token");
  await expectText(page.getByRole("alert").first(), /not valid/);
  await page.getByRole("button", { name: "Send the link again" }).waitFor();
  assertNoProblems(problems);
});

let studentPage;

test("sign in: a wrong password is refused; a double click signs in once and shows the account", async () => {
  const { page, problems } = await newPage();
  studentPage = page;
  const logins = countRequests(page, "/api/v1/auth/login");
  await visit(page, "/sign-in");
  await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
  await page.getByLabel("Password", { exact: true }).fill("Wrong-Password-1");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectText(summary(page), /email or password is not right/);
  await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).dblclick();
  await page.waitForURL("**/account");
  await waitReady(page);
  assert.equal(logins.count, 2);
  await page.getByRole("heading", { name: "Your account", level: 1 }).waitFor();
  await expectText(page.locator(".facts").first(), /sam@north\.edu/);
  await expectText(page.locator(".facts").first(), /North/);
  assert.equal(await page.getByLabel("Legal name").inputValue(), "Samuel Student");
  await expectText(page.locator(".session-list"), /This device/);
  assert.equal(await page.locator(".session-list > li").count(), 1);
  // The navigation shows the signed-in state.
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).count(), 0);
  await screenshot(page, "flow-account-desktop");
  assertNoProblems(problems);
});

test("account: edit the profile (an empty name is refused)", async () => {
  const page = studentPage;
  const name = page.getByLabel("Your name");
  await name.fill("");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expectText(fieldError(page, "display_name"), /Enter the name/);
  await name.fill("Sam S.");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expectText(page.getByRole("status").filter({ hasText: "profile is saved" }), /Your profile is saved/);
  await page.reload();
  await waitReady(page);
  await page.locator(".facts").first().waitFor();
  assert.equal(await page.getByLabel("Your name").inputValue(), "Sam S.");
});

test("account: another device appears in the sessions and can be signed out", async () => {
  const page = studentPage;
  const other = await newPage({ viewport: PHONE });
  await signIn(other.page, STUDENT.email, STUDENT.password, { remember: true });
  assert.equal(new URL(other.page.url()).pathname, "/account");

  await page.reload();
  await waitReady(page);
  await page.locator(".session-list > li").nth(1).waitFor();
  assert.equal(await page.locator(".session-list > li").count(), 2);
  // "Keep me signed in" there: that session lasts 30 days; this one (not kept) 12 hours.
  const day = (ms) => new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: "UTC" }).format(new Date(ms));
  const kept = page.locator('.session-list > li[data-current="false"] dl');
  await expectText(kept, new RegExp(`Kept signed in until${day(Date.now() + 30 * 86_400_000)}, \\d\\d:\\d\\d$`));
  const current = page.locator('.session-list > li[data-current="true"] dl');
  await expectText(current, /Ends at the latest/);
  assert.doesNotMatch(await current.innerText(), /Kept signed in/);
  await page.locator('.session-list > li[data-current="false"]').getByRole("button", { name: /^Sign out this device: Chrome on Linux/ }).click();
  await expectText(page.locator("#sessions-heading ~ .form-result"), /is signed out/);
  assert.equal(await page.locator(".session-list > li").count(), 1);

  // The other device is signed out: its next request says so, in the form and at the top.
  await other.page.getByRole("button", { name: "Save profile" }).click();
  await expectText(other.page.locator("form .form-summary.is-shown"), /not signed in, or your session has ended/);
  await expectText(other.page.locator(".session-ended"), /Your session has ended/);
  await other.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).waitFor();
  await other.page.reload();
  await other.page.waitForURL(/\/sign-in\?next=(%2F|\/)account$/);
  await waitReady(other.page);

  // Sign in there again, then "sign out everywhere else".
  await signIn(other.page, STUDENT.email, STUDENT.password);
  await page.reload();
  await waitReady(page);
  await page.locator(".session-list > li").nth(1).waitFor();
  await page.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expectText(page.locator("#sessions-heading ~ .form-result"), /1 other session is signed out/);
  assert.equal(await page.locator(".session-list > li").count(), 1);
  assert.ok(await page.getByRole("button", { name: "Sign out everywhere else" }).isHidden());
  assertNoProblems(other.problems);
});

test("account: change the password (a wrong current one is refused)", async () => {
  const page = studentPage;
  const form = page.getByRole("form", { name: "Change your password" });
  await form.getByRole("button", { name: "Change password" }).click();
  await expectText(fieldError(page, "current_password"), /Enter your current password/);
  await form.getByLabel("Current password", { exact: true }).fill("Not-My-Password-9");
  await form.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await expectText(form.locator(".strength-text"), /Password strength/);
  await form.getByRole("button", { name: "Change password" }).click();
  await expectText(fieldError(page, "current_password"), /not your current password/);
  await form.getByLabel("Current password", { exact: true }).fill(STUDENT.password);
  await form.getByRole("button", { name: "Change password" }).click();
  await expectText(page.getByRole("status").filter({ hasText: "password is changed" }), /Your password is changed/);
  assert.equal(await form.getByLabel("Current password", { exact: true }).inputValue(), "");
  // Still signed in here.
  await page.reload();
  await waitReady(page);
  await page.locator(".session-list > li").first().waitFor();
});

test("idle timeout: a warning two minutes before, 'Stay signed in' keeps the session", async () => {
  const { context, page, problems } = await newPage();
  await context.clock.install();
  await signIn(page, STUDENT.email, NEW_PASSWORD);
  assert.equal(new URL(page.url()).pathname, "/account");
  const dialog = page.getByRole("dialog", { name: "Are you still there?" });
  assert.ok(await dialog.isHidden());

  await page.clock.fastForward("27:00");
  assert.ok(await dialog.isHidden(), "no warning 3 minutes before the timeout");
  await page.clock.fastForward("01:30");
  await dialog.waitFor();
  await expectText(dialog, /signed out in about 2 minutes/);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "timeout-stay");
  await screenshot(page, "flow-timeout-warning-desktop", { fullPage: false });

  const sessionCheck = page.waitForRequest((r) => r.url().endsWith("/api/v1/auth/session"));
  await page.keyboard.press("Enter"); // keyboard only: "Stay signed in" has the focus
  await sessionCheck;
  await dialog.waitFor({ state: "hidden" });

  // Let it run out this time: signed out, and told why.
  await page.clock.fastForward("28:30");
  await dialog.waitFor();
  await page.clock.fastForward("02:00");
  await page.waitForURL(/\/sign-in\?expired=1/);
  await waitReady(page);
  await expectText(page.locator(".arrival"), /signed out because nothing happened/);
  const who = await page.request.get(`${suite.server.url}/api/v1/auth/session`);
  assert.equal(who.status(), 401, "the session was ended on the server too");
  assertNoProblems(problems);
});

test("sign out: the back button shows no account data (no back/forward cache)", async () => {
  const page = studentPage;
  await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in\?signed_out=1$/);
  await waitReady(page);
  await expectText(page.locator(".arrival"), /You are signed out/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).waitFor();
  await page.goBack();
  await page.waitForURL(/\/sign-in\?next=(%2F|\/)account$/);
  await waitReady(page);
  assert.equal(await page.getByText("Where you are signed in").count(), 0);
  await expectText(page.locator(".arrival"), /Sign in to go on/);
});

// Playwright starts Chromium without the back/forward cache; a real browser has it, and may
// show the account page as it was before sign-out. This test keeps the cache on and checks
// that the page is restored from it (so the restore path runs) and shows nothing.
test("sign out: the back button shows no account data (back/forward cache on)", async () => {
  const browser = await launch({ backForwardCache: true });
  try {
    const { context, page, problems } = await openPage(browser, { baseURL: suite.server.url });
    // What each page restored from the cache showed at that moment, before any script of ours.
    await context.addInitScript(() => {
      window.addEventListener("pageshow", (event) => {
        if (!event.persisted) return;
        const seen = JSON.parse(window.sessionStorage.getItem("e2e.restored") || "[]");
        seen.push({ path: window.location.pathname, text: document.body.innerText });
        window.sessionStorage.setItem("e2e.restored", JSON.stringify(seen));
      });
    });
    await signIn(page, STUDENT.email, NEW_PASSWORD);
    assert.equal(new URL(page.url()).pathname, "/account");
    await expectText(page.locator(".facts").first(), /sam@north\.edu/);
    await page.locator(".session-list > li").first().waitFor();

    await page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in\?signed_out=1$/);
    await waitReady(page);
    await page.goBack();
    await page.waitForURL(/\/sign-in\?next=(%2F|\/)account$/);
    await waitReady(page);

    const restored = await page.evaluate(() => JSON.parse(window.sessionStorage.getItem("e2e.restored") || "[]"));
    const account = restored.filter((r) => r.path === "/account");
    assert.equal(account.length, 1, `the account page came back from the back/forward cache: ${JSON.stringify(restored)}`);
    assert.doesNotMatch(account[0].text, /sam@north\.edu|Where you are signed in/, "the restored page showed account data");
    assert.doesNotMatch(await page.locator("body").innerText(), /sam@north\.edu/);
    assert.equal(await page.locator(".session-list").count(), 0);
    assert.equal(await page.getByText("Where you are signed in").count(), 0);
    await expectText(page.locator(".arrival"), /Sign in to go on/);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).waitFor();
    assertNoProblems(problems);
  } finally {
    await browser.close();
  }
});

test("forgot password: the emailed link sets a new password (weak ones refused)", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  await visit(page, "/forgot-password");
  await page.getByRole("button", { name: "Email me a reset link" }).click();
  await expectText(fieldError(page, "email"), /Enter the email address/);
  const ignore = mailFiles(suite.server.dataDir);
  await page.getByLabel("Email").fill(STUDENT.email);
  await page.getByRole("button", { name: "Email me a reset link" }).click();
  await expectText(page.locator(".notice-success"), /reset link is on its way/);
  const link = await waitForLink(suite.server.dataDir, STUDENT.email, "/reset-password", { ignore });

  await page.goto(link);
  await waitReady(page);
  assert.equal(new URL(page.url()).search, "", "the token is removed from the address bar");
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Save the new password" }).click();
  await expectText(fieldError(page, "new_password"), /8 characters/);
  await page.getByLabel("New password", { exact: true }).fill(RESET_PASSWORD);
  await page.getByRole("button", { name: "Save the new password" }).click();
  await page.waitForURL(/\/sign-in\?reset=1$/);
  await waitReady(page);
  await expectText(page.locator(".arrival"), /password is changed/);
  await signIn(page, STUDENT.email, RESET_PASSWORD);
  assert.equal(new URL(page.url()).pathname, "/account");

  // The link works once.
  await page.goto(link);
  await waitReady(page);
  await page.getByLabel("New password", { exact: true }).fill("Another-Strong-Pass-1");
  await page.getByRole("button", { name: "Save the new password" }).click();
  await expectText(summary(page), /already been used|not valid|expired/);
  await page.getByRole("link", { name: "Ask for a new reset link" }).waitFor();
  assertNoProblems(problems);
});

test("first admin: the bootstrap link, then campuses in the admin page", async () => {
  const { page, problems } = await newPage();
  assert.ok(suite.server.bootstrapLink, "the server printed a bootstrap link");
  await page.goto(suite.server.bootstrapLink);
  await waitReady(page);
  await page.getByRole("heading", { name: "Create the first administrator" }).waitFor();
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel(/^Name/).fill(ADMIN.name);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await page.getByRole("heading", { name: "The administrator account is ready" }).waitFor();
  await expectText(page.locator("main ol"), /two-step sign-in.*campus.*app/s);
  await page.getByRole("link", { name: "Sign in" }).last().click();
  await page.waitForURL(/\/sign-in\?next=(%2F|\/)admin(%2F|\/)start$/);
  await waitReady(page);
  await page.getByLabel("Email", { exact: true }).fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();

  // The admin lands on what to do next, each step with its state and its link.
  await page.waitForURL("**/admin/start");
  await waitReady(page);
  await page.getByRole("heading", { name: "Getting started", level: 1 }).waitFor();
  const step = (name) => page.locator("li.start-step", { has: page.getByRole("heading", { name }) });
  await expectText(step("1. Turn on two-step sign-in").locator(".step-status"), /password alone/);
  await step("1. Turn on two-step sign-in").getByRole("link", { name: /Turn on two-step sign-in/ }).waitFor();
  // The suite's server starts with North (added from the shell), so this step is done.
  await expectText(step("2. Add a campus").locator(".step-status"), /^Done: North \(north\.edu\)/);
  await step("3. Connect an app").getByRole("link", { name: "The API documentation" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Getting started" }).getAttribute("aria-current"), "page");
  await screenshot(page, "flow-admin-start-desktop");
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], violations.join("\n"));
  await step("2. Add a campus").getByRole("link", { name: /Add a campus/ }).click();
  await page.waitForURL("**/admin#new-campus-heading");
  await waitReady(page);
  await page.getByRole("heading", { name: "Administration", level: 1 }).waitFor();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).waitFor();
  const list = page.locator(".campus-list");
  await expectText(list, /North/);
  await expectText(list, /north\.edu/);

  const add = page.getByRole("form", { name: "Add a campus" });
  await add.getByRole("button", { name: "Add campus" }).click();
  await expectText(add.locator('.field[data-field="name"] .field-error'), /Enter the campus name/);
  // A domain that belongs to another campus is refused.
  await add.getByLabel("Campus name").fill("Elsewhere");
  await add.getByLabel("Email domains").fill("north.edu");
  await add.getByRole("button", { name: "Add campus" }).click();
  await expectText(add.locator(".form-summary"), /belongs to another campus/);
  // A good one.
  await add.getByLabel("Campus name").fill("South");
  await add.getByLabel("Email domains").fill("south.edu, Mail.South.edu");
  await add.getByRole("button", { name: "Add campus" }).click();
  await expectText(page.locator(".notice-success"), /South is added/);
  const south = list.locator("li.campus", { hasText: "South" });
  await expectText(south, /mail\.south\.edu/);
  await screenshot(page, "flow-admin-campuses-desktop");

  // Rename it and change its domains.
  await south.getByRole("button", { name: "Edit South" }).click();
  const edit = page.getByRole("form", { name: "Edit South" });
  await edit.getByLabel("Campus name").fill("South Campus");
  await edit.getByLabel("Email domains").fill("south.edu");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expectText(page.locator(".notice-success"), /South Campus is saved/);
  const renamed = list.locator("li.campus", { hasText: "South Campus" });
  await expectText(renamed, /south\.edu/);
  assert.equal(await renamed.getByText("mail.south.edu").count(), 0);

  // Remove it (after a confirmation).
  await renamed.getByRole("button", { name: "Remove South Campus" }).click();
  await renamed.getByRole("button", { name: "Cancel" }).click();
  await renamed.getByRole("button", { name: "Remove South Campus" }).click();
  await renamed.getByRole("button", { name: "Yes, remove South Campus" }).click();
  await expectText(page.locator(".notice-success"), /South Campus is removed/);
  assert.equal(await list.locator("li.campus", { hasText: "South Campus" }).count(), 0);
  assertNoProblems(problems);
});

test("a student cannot use the admin page", async () => {
  const { page, problems } = await newPage();
  await signIn(page, STUDENT.email, RESET_PASSWORD, { next: "/admin" });
  assert.equal(new URL(page.url()).pathname, "/admin");
  await expectText(page.locator("main"), /for campus IT administrators/);
  assert.equal(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).count(), 0);
  assert.equal(await page.locator(".campus-list").count(), 0);
  assertNoProblems(problems);
});

test("signed out, the account and admin pages send you to sign in", async () => {
  const { page, problems } = await newPage();
  await page.goto("/account");
  await page.waitForURL(/\/sign-in\?next=(%2F|\/)account$/);
  await waitReady(page);
  await page.goto("/admin");
  await page.waitForURL(/\/sign-in\?next=(%2F|\/)admin$/);
  await waitReady(page);
  assertNoProblems(problems);
});

test("keyboard only: sign in with Tab, Enter and Space", async () => {
  const { page, problems } = await newPage({ viewport: PHONE });
  await visit(page, "/sign-in");
  const focused = () => page.evaluate(() => document.activeElement?.name || document.activeElement?.textContent?.trim());
  let steps = 0;
  while ((await focused()) !== "email" && steps++ < 20) await page.keyboard.press("Tab");
  assert.equal(await focused(), "email", "Tab reaches the email field");
  await page.keyboard.type(STUDENT.email);
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "password");
  await page.keyboard.type(RESET_PASSWORD);
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Show");
  await page.keyboard.press("Enter");
  assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("type"), "text");
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "remember_me");
  await page.keyboard.press("Space");
  assert.ok(await page.getByLabel("Keep me signed in on this device").isChecked());
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Sign in");
  // The focused control is visibly marked.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, "solid");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/account$/);
  await waitReady(page);
  await expectText(page.locator(".session-list"), /This device/);
  assertNoProblems(problems);
});

// Answers the API cannot be made to give on demand here are simulated at the network layer,
// to check what the page says.
test("API errors are shown in plain words: too many tries, server trouble, no connection", async () => {
  const { page } = await newPage();
  await visit(page, "/forgot-password");
  await page.getByLabel("Email").fill(STUDENT.email);
  const button = page.getByRole("button", { name: "Email me a reset link" });
  const problem = (status, code, detail) => ({
    status,
    contentType: "application/problem+json",
    headers: { "Retry-After": "30", "X-Request-Id": "req-1234" },
    body: JSON.stringify({ type: `urn:gatehouse:problem:${code}`, title: "x", status, detail, code }),
  });

  await page.route("**/api/v1/auth/password/forgot", (route) => route.fulfill(problem(429, "rate_limited", "Slow down.")));
  await button.click();
  await expectText(summary(page), /Too many tries\. Please wait 30 seconds/);

  await page.unroute("**/api/v1/auth/password/forgot");
  await page.route("**/api/v1/auth/password/forgot", (route) => route.fulfill(problem(500, "internal_error", "Boom.")));
  await button.click();
  await expectText(summary(page), /went wrong on our side.*req-1234/);

  await page.unroute("**/api/v1/auth/password/forgot");
  await page.route("**/api/v1/auth/password/forgot", (route) => route.abort("internetdisconnected"));
  await button.click();
  await expectText(summary(page), /cannot be reached/);
});

test("sign in: a second step whose sign-in has ended sends the student back to sign in", async () => {
  const { page, problems } = await newPage();
  await page.route("**/api/v1/auth/login", (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ mfa_required: true, mfa_token: "t" }) }),
  );
  await visit(page, "/sign-in");
  await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
  await page.getByLabel("Password", { exact: true }).fill(RESET_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Enter your sign-in code" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/sign-in");
  // The real server knows no pending sign-in "t".
  await page.getByLabel("Code", { exact: true }).fill("123456");
  await page.getByRole("button", { name: "Continue" }).click();
  await expectText(page.locator("main"), /expired or had too many wrong codes/);
  await page.getByRole("link", { name: "Sign in again" }).waitFor();
  assertNoProblems(problems);
});
