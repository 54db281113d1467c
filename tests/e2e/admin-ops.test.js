// The admin pages for campus IT beyond campuses: accounts (find, disable, enable, role, end
// sessions), the audit log with filters, backups and the outbox. Bad input too: an email
// that finds nobody, a student on the admin pages.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { screenshot, visit } from "./lib/browser.js";
import { assertNoProblems, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const ADMIN = { email: "it@north.edu", display_name: "Campus IT", password: "Granite-Signal-58" };
const STUDENT = { email: "sam@north.edu", display_name: "Sam Student", password: "Blue-Harbour-42" };

const suite = gatehouseSuite(async (server) => {
  await createAdmin(server, ADMIN);
  await createConfirmedUser(server, STUDENT);
});
const { newPage } = suite;

test("accounts: find by email, disable, enable and change the role", async () => {
  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/users" });
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  await page.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Audit log" }).waitFor();
  const list = page.locator(".account-list");
  await expectText(list, /sam@north\.edu/);

  const find = page.getByRole("form", { name: "Find accounts" });
  await find.getByLabel(/Email/).fill("nobody@north.edu");
  await find.getByRole("button", { name: "Find" }).click();
  await expectText(page.locator(".results"), /No account matches/);
  await find.getByLabel(/Email/).fill("SAM@north.edu");
  await find.getByRole("button", { name: "Find" }).click();
  await expectText(list, /sam@north\.edu/);
  assert.equal(await list.locator("li.panel").count(), 1);
  await screenshot(page, "flow-admin-accounts-desktop");

  await page.getByRole("button", { name: "Disable: sam@north.edu" }).click();
  await expectText(page.locator(".notice-success"), /sam@north\.edu is disabled/);
  await expectText(list, /Disabled/);
  // The student cannot sign in now.
  const res = await fetch(`${suite.server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: STUDENT.email, password: STUDENT.password }),
  });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).code, "account_disabled");

  await page.getByRole("button", { name: "Enable: sam@north.edu" }).click();
  await expectText(page.locator(".notice-success"), /sam@north\.edu is enabled/);
  await expectText(list, /Active/);

  await page.getByLabel("Role of sam@north.edu").selectOption("reviewer");
  await page.getByRole("button", { name: "Change role" }).click();
  await expectText(page.locator(".notice-success"), /now reviewer/);
  await expectText(list, /reviewer/);
  assertNoProblems(problems);
});

test("the audit log filters by action and pages", async () => {
  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/audit" });
  await page.getByRole("heading", { name: "Audit log", level: 1 }).waitFor();
  await expectText(page.locator("table.data"), /login/);
  const form = page.getByRole("form", { name: "Filter the audit log" });
  await form.getByLabel(/Action/).fill("user.registered");
  await form.getByRole("button", { name: "Show" }).click();
  // The filtered page replaces the whole table: wait until no other action is listed.
  const others = page.locator("table.data tbody tr", { hasNotText: "user.registered" });
  for (let i = 0; i < 100 && (await others.count()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await others.count(), 0);
  await expectText(page.locator("table.data tbody"), /user\.registered/);
  await form.getByLabel(/Action/).fill("no.such.action");
  await form.getByRole("button", { name: "Show" }).click();
  await expectText(page.locator(".results"), /No events match/);
  assertNoProblems(problems);
});

test("backups: take one and see it listed; the outbox counts", async () => {
  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/backups" });
  await page.getByRole("heading", { name: "Backups and mail", level: 1 }).waitFor();
  await expectText(page.locator(".outbox-counts"), /waiting to be sent/);
  await page.getByRole("button", { name: "Take a backup now" }).click();
  await expectText(page.locator(".notice-success"), /Backup gatehouse-.*\.tar\.gz is written/);
  await expectText(page.locator("table.data"), /gatehouse-.*\.tar\.gz/);
  await screenshot(page, "flow-admin-backups-desktop");
  assertNoProblems(problems);
});

test("a student cannot use the admin pages", async () => {
  const { page, problems } = await newPage();
  await signIn(page, STUDENT.email, STUDENT.password, { next: "/admin/users" });
  for (const path of ["/admin/users", "/admin/audit", "/admin/backups"]) {
    await visit(page, path);
    await expectText(page.locator("main"), /for campus IT administrators/);
    assert.equal(await page.locator(".account-list, table.data").count(), 0);
  }
  assertNoProblems(problems);
});
