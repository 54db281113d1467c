// The admin pages for campus IT beyond campuses: accounts (find, disable, enable, role, unlock
// a locked-out account), the audit log with its filters (action, account, days) and pager,
// backups, and the outbox (a failed message sent again). Bad input too: an email that finds
// nobody, a student on the admin pages.

import { test } from "node:test";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { gatehouseSuite } from "./lib/suite.js";
import { screenshot, visit } from "./lib/browser.js";
import { sql } from "./lib/db.js";
import { mailFiles, waitForLink } from "./lib/mail.js";
import { assertNoProblems, bearerHeaders, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const ADMIN = { email: "it@north.edu", display_name: "Campus IT", password: "Granite-Signal-58" };
const STUDENT = { email: "sam@north.edu", display_name: "Sam Student", password: "Blue-Harbour-42" };
const LOCKED = { email: "lee@north.edu", display_name: "Lee", password: "Copper-Meadow-64" };
const BUSY = { email: "pat@north.edu", display_name: "Pat", password: "Velvet-Canyon-31" };

const suite = gatehouseSuite(async (server) => {
  await createAdmin(server, ADMIN);
  await createConfirmedUser(server, STUDENT);
  await createConfirmedUser(server, LOCKED);
  await createConfirmedUser(server, BUSY);
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

test("the audit log filters by action", async () => {
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

/** POST /api/v1/auth/login without a browser. */
function apiLogin(email, password) {
  return fetch(`${suite.server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
}

test("a locked-out account: listed as locked, unlocked by an admin, then signs in", async () => {
  for (let i = 0; i < 5; i++) assert.equal((await apiLogin(LOCKED.email, "Wrong-Pass-99")).status, 401);
  const paused = await apiLogin(LOCKED.email, LOCKED.password);
  assert.equal(paused.status, 429, "five failed passwords pause sign-ins, even with the right one");
  assert.equal((await paused.json()).code, "account_throttled");

  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/users" });
  const list = page.locator(".account-list");
  const listed = list.locator("li.panel");
  await listed.nth(1).waitFor(); // every account, before any filter
  const find = page.getByRole("form", { name: "Find accounts" });
  await find.getByLabel("Status").selectOption("locked");
  await find.getByRole("button", { name: "Find" }).click();
  // The filtered list replaces the whole list: wait until one account is left.
  for (let i = 0; i < 100 && (await listed.count()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await listed.count(), 1, "only the locked account is listed");
  await expectText(list, /lee@north\.edu/);
  await expectText(list, /Locked out/);
  await page.getByRole("button", { name: "Unlock: lee@north.edu" }).click();
  await expectText(page.locator(".notice-success"), /lee@north\.edu is unlocked/);
  // The list is drawn again with the same filter: nobody is locked out now.
  await expectText(page.locator(".results"), /No account matches/);
  await find.getByLabel("Status").selectOption("");
  await find.getByLabel(/Email/).fill(LOCKED.email);
  await find.getByRole("button", { name: "Find" }).click();
  await expectText(list, /Active/);
  assert.equal(await page.getByRole("button", { name: "Unlock: lee@north.edu" }).count(), 0);
  assertNoProblems(problems);

  const lee = await newPage();
  await signIn(lee.page, LOCKED.email, LOCKED.password);
  assert.equal(new URL(lee.page.url()).pathname, "/account");
  await expectText(lee.page.locator(".facts").first(), /lee@north\.edu/);
  assertNoProblems(lee.problems);
});

test("the audit log filters by account id and days, and pages through 50 at a time", async () => {
  // 55 role changes about one account: with its registration and confirmation, 57 events.
  const auth = await bearerHeaders(suite.server, ADMIN);
  const found = await (await fetch(`${suite.server.url}/api/v1/admin/users?email=${encodeURIComponent(BUSY.email)}`, { headers: auth })).json();
  const id = found.items[0].id;
  for (let i = 0; i < 55; i++) {
    const res = await fetch(`${suite.server.url}/api/v1/admin/users/${id}/role`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ role: i % 2 === 0 ? "reviewer" : "user" }),
    });
    assert.equal(res.status, 200, await res.text());
  }

  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/audit" });
  await page.locator("table.data tbody tr").first().waitFor();
  const form = page.getByRole("form", { name: "Filter the audit log" });
  const pagerText = page.locator(".pager .meta");
  const rows = page.locator("table.data tbody tr");
  const show = () => form.getByRole("button", { name: "Show" }).click();

  await form.getByLabel(/Account id/).fill(id);
  await show();
  await expectText(pagerText, /Page 1 of 2 \(57 in all\)/);
  assert.equal(await rows.count(), 50);
  assert.equal(await rows.filter({ hasNotText: id }).count(), 0, "every event is by or about the account");
  await expectText(rows.first(), /role\.changed/);
  await page.getByRole("button", { name: "Next page" }).click();
  await expectText(pagerText, /Page 2 of 2 \(57 in all\)/);
  assert.equal(await rows.count(), 7);
  await expectText(page.locator("table.data tbody"), /user\.registered/);
  assert.ok(await page.getByRole("button", { name: "Next page" }).isDisabled());
  await page.getByRole("button", { name: "Previous page" }).click();
  await expectText(pagerText, /Page 1 of 2/);
  assert.ok(await page.getByRole("button", { name: "Previous page" }).isDisabled());
  await screenshot(page, "flow-admin-audit-desktop");

  // Days are UTC here (the browser's time zone in these tests), as the server's clock.
  const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  await form.getByLabel(/From/).fill(day(0));
  await show();
  await expectText(pagerText, /57 in all/);
  await form.getByLabel(/Until/).fill(day(0));
  await show();
  await expectText(page.locator(".results"), /No events match/);
  await form.getByLabel(/Until/).fill(day(1));
  await show();
  await expectText(pagerText, /57 in all/);
  await form.getByLabel(/From/).fill(day(1));
  await form.getByLabel(/Until/).fill("");
  await show();
  await expectText(page.locator(".results"), /No events match/);
  assertNoProblems(problems);
});

test("the outbox: a message that failed is listed and sent again", async () => {
  const { dataDir } = suite.server;
  const maildir = join(dataDir, "mail");
  // Delivery fails while the maildir is a plain file; the message keeps its text (a sent one
  // is erased, and cannot be sent again).
  renameSync(maildir, `${maildir}.aside`);
  writeFileSync(maildir, "not a directory");
  let id;
  try {
    const asked = await fetch(`${suite.server.url}/api/v1/auth/password/forgot`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: STUDENT.email }),
    });
    assert.equal(asked.status, 202);
    const deadline = Date.now() + 15_000;
    while (!id && Date.now() < deadline) {
      id = sql(dataDir, "SELECT id FROM outbox WHERE channel = 'email' AND sent_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1");
      if (!id) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(id, "the delivery failed once");
    // The outbox gives up after 12 failures over hours: as if that had happened.
    sql(dataDir, `UPDATE outbox SET attempts = 12, failed_at = ${Math.floor(Date.now() / 1000)} WHERE id = ${id}`);
  } finally {
    rmSync(maildir, { force: true });
    renameSync(`${maildir}.aside`, maildir);
  }
  const lastError = sql(dataDir, `SELECT last_error FROM outbox WHERE id = ${id}`);

  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/backups" });
  await expectText(page.locator(".outbox-counts"), /0 waiting to be sent, 1 failed/);
  const failed = page.getByRole("region", { name: "Failed messages" });
  const row = failed.locator("tbody tr", { hasText: lastError });
  await expectText(row, new RegExp(`^${id}\\s*email`));
  const sent = mailFiles(dataDir);
  await row.getByRole("button", { name: `Send message ${id} again` }).click();
  await expectText(page.locator(".notice-success"), new RegExp(`Message ${id} is queued again`));
  await expectText(page.locator(".outbox-counts"), /, 0 failed/);
  assert.equal(await failed.count(), 0, "no failed message is listed");
  // The outbox delivers it: the reset mail arrives.
  await waitForLink(dataDir, STUDENT.email, "/reset-password", { ignore: sent });
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

test("apps: register one and see its secret once, give it a new secret, refuse a bad redirect URI, remove it", async () => {
  const { page, problems } = await newPage();
  await signIn(page, ADMIN.email, ADMIN.password, { next: "/admin/apps" });
  await page.getByRole("heading", { name: "Apps", level: 1 }).waitFor();
  await expectText(page.locator(".empty"), /No apps are registered yet/);
  const form = page.getByRole("form", { name: "Register an app" });

  // A redirect URI over plain http to another machine is refused next to the field.
  await form.getByLabel("App name").fill("North Rides");
  await form.getByLabel("Redirect URIs").fill("http://rides.north.edu/callback");
  await form.getByRole("button", { name: "Register the app" }).click();
  await expectText(form.locator('[data-field="redirect_uris"] .field-error'), /use https/);
  assert.equal((await (await fetch(`${suite.server.url}/api/v1/admin/clients`, { headers: await bearerHeaders(suite.server, ADMIN) })).json()).length, 0);

  await form.getByLabel("Redirect URIs").fill("https://rides.north.edu/callback");
  await form.getByLabel(/Driver verification/).check();
  await form.getByRole("button", { name: "Register the app" }).click();
  await expectText(page.locator(".notice-success"), /North Rides is registered/);
  const secret = (await page.locator(".client-secret").textContent()).trim();
  assert.ok(secret.length >= 43, secret);
  const row = page.locator("table.data tbody tr", { hasText: "North Rides" });
  await expectText(row, /openid email profile driver/);
  assert.ok(await form.getByLabel("Email address").isChecked(), "the default scopes again after registering");
  assert.ok(!(await form.getByLabel(/Driver verification/).isChecked()));
  await screenshot(page, "flow-admin-apps-desktop");

  // The secret is not shown again: not after a reload, not in the list.
  await visit(page, "/admin/apps");
  await expectText(page.locator("table.data"), /North Rides/);
  assert.equal(await page.locator(".client-secret").count(), 0);
  assert.ok(!(await page.content()).includes(secret));

  await page.getByRole("button", { name: "New secret for North Rides" }).click();
  await expectText(page.locator(".notice-success"), /given a new secret/);
  const second = (await page.locator(".client-secret").textContent()).trim();
  assert.notEqual(second, secret);

  await page.getByRole("button", { name: "Remove North Rides" }).click();
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Remove North Rides" }).click();
  await page.getByRole("button", { name: "Yes, remove North Rides" }).click();
  await expectText(page.locator(".notice-success"), /North Rides is removed/);
  await expectText(page.locator(".empty"), /No apps are registered yet/);
  assertNoProblems(problems);
});
