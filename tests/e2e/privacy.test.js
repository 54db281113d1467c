// Privacy in the web UI, in a real Chromium against the real binary: downloading the
// account's data, deleting the account (password and confirmation; bad input first), and the
// privacy policy (an admin publishes it, sign-up needs it accepted, an existing user is asked
// after signing in, a session from before it is asked on its next page). The tests run in order: the policy is published last.

import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { visit, waitReady } from "./lib/browser.js";
import { assertNoProblems, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const ADA = { email: "ada@north.edu", display_name: "Ada Export", password: "Blue-Harbour-42", legal_name: "Ada Lovelace" };
const BEA = { email: "bea@north.edu", display_name: "Bea Delete", password: "Quiet-Lantern-77" };
const ADMIN = { email: "it@north.edu", display_name: "Campus IT", password: "Granite-Signal-58" };

const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, ADA);
  await createConfirmedUser(server, BEA);
  await createAdmin(server, ADMIN);
});
const { newPage } = suite;

const fieldError = (scope, name) => scope.locator(`.field[data-field="${name}"] .field-error`).first();

test("export: the account page hands over the account's data as a JSON file", async () => {
  const { page, problems } = await newPage();
  await signIn(page, ADA.email, ADA.password);
  await visit(page, "/account");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download your data" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "gatehouse-account-export.json");
  const data = JSON.parse(readFileSync(await download.path(), "utf8"));
  // The link stays on the page for a second try.
  await page.getByRole("link", { name: "gatehouse-account-export.json" }).waitFor();
  assert.equal(data.format, "gatehouse.account-export");
  assert.equal(data.profile.email, ADA.email);
  assert.equal(data.profile.legal_name, ADA.legal_name);
  assert.equal(data.campus.name, "North");
  assert.ok(data.audit_events.some((e) => e.action === "login"));
  assertNoProblems(problems);
});

test("delete: refused without the password and the confirmation, then done for good", async () => {
  const { page, problems } = await newPage();
  await signIn(page, BEA.email, BEA.password);
  await visit(page, "/account");
  const form = page.getByRole("form", { name: "Delete your account" });
  await form.getByRole("button", { name: "Delete my account" }).click();
  await expectText(fieldError(form, "password"), /Enter your password/);
  await expectText(fieldError(form, "confirm"), /Tick the box/);
  // A wrong password deletes nothing.
  await form.getByLabel("Your password", { exact: true }).fill("Wrong-Password-1");
  await form.getByLabel(/I understand/).check();
  await form.getByRole("button", { name: "Delete my account" }).click();
  await expectText(form.locator(".form-summary"), /password is not right/);
  await form.getByLabel("Your password", { exact: true }).fill(BEA.password);
  await form.getByRole("button", { name: "Delete my account" }).click();
  await page.waitForURL(/\/sign-in\?deleted=1$/);
  await waitReady(page);
  await expectText(page.locator(".arrival"), /account and your personal data are deleted/);
  // Signed out, and the password no longer signs in.
  const login = await fetch(`${suite.server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: BEA.email, password: BEA.password }),
  });
  assert.equal(login.status, 401);
  await visit(page, "/account");
  await page.waitForURL(/\/sign-in/);
  assertNoProblems(problems);
});

test("policy: an admin publishes it, sign-up needs it, and a user accepts it after signing in", async () => {
  const admin = await newPage();
  await signIn(admin.page, ADMIN.email, ADMIN.password, { next: "/admin" });
  const publish = admin.page.getByRole("form", { name: "Publish a privacy policy" });
  await expectText(admin.page.locator(".policy-list"), /No policy is published/);
  await publish.getByRole("button", { name: "Publish" }).click();
  await expectText(fieldError(publish, "version"), /Give the new version a label/);
  await publish.getByLabel("Version").fill("2026-09");
  await publish.getByLabel("Policy text").fill("We keep your data safe.\n\nWe delete it when you ask.");
  await publish.getByRole("button", { name: "Publish" }).click();
  await expectText(admin.page.locator(".policy-list"), /Version 2026-09.*Current/);
  assertNoProblems(admin.problems);

  // The policy page shows it.
  const reader = await newPage();
  await visit(reader.page, "/privacy-policy");
  await expectText(reader.page.locator("main"), /We delete it when you ask/);

  // Sign-up: the box must be ticked.
  const { page, problems } = await newPage();
  await visit(page, "/sign-up");
  await page.getByLabel("Campus email").fill("cy@north.edu");
  await page.getByLabel("Your name").fill("Cy Newcomer");
  await page.getByLabel("Password", { exact: true }).fill("Amber-Orchard-93");
  await page.getByRole("button", { name: "Create account" }).click();
  await expectText(fieldError(page, "accepted_policy_version"), /Accept the privacy policy/);
  await page.getByRole("link", { name: "privacy policy (version 2026-09, opens in a new tab)", exact: true }).waitFor();
  await page.getByLabel(/I have read and accept/).check();
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  assertNoProblems(problems);

  // An existing user is asked after signing in, and goes on once they accept.
  const ada = await newPage();
  await visit(ada.page, "/sign-in");
  await ada.page.getByLabel("Email", { exact: true }).fill(ADA.email);
  await ada.page.getByLabel("Password", { exact: true }).fill(ADA.password);
  await ada.page.getByRole("button", { name: "Sign in", exact: true }).click();
  await ada.page.getByRole("heading", { name: "Our privacy policy has changed" }).waitFor();
  await ada.page.getByRole("button", { name: "Accept and continue" }).click();
  await ada.page.waitForURL("**/account");
  await waitReady(ada.page);
  const status = await ada.page.evaluate(async () => (await fetch("/api/v1/account/policy-acceptance")).json());
  assert.equal(status.acceptance_required, false);
  assert.equal(status.acceptances[0].version, "2026-09");
  assertNoProblems(ada.problems);

  // A session that began before the version was published is asked on the next page it opens.
  await visit(admin.page, "/driver");
  const prompt = admin.page.getByRole("heading", { name: "Our privacy policy has changed" });
  await prompt.waitFor();
  await admin.page.getByRole("button", { name: "Accept and continue" }).click();
  await expectText(admin.page.locator(".policy-slot"), /you accepted version 2026-09/);
  await visit(admin.page, "/driver");
  assert.equal(await prompt.count(), 0);
  assertNoProblems(admin.problems);
});
