// Small helpers shared by the browser tests.

import assert from "node:assert/strict";
import { mailFiles, waitForLink } from "./mail.js";
import { visit, waitReady } from "./browser.js";

/** Waits until the locator's text matches `pattern` (playwright-core has no `expect`). */
export async function expectText(locator, pattern, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      last = (await locator.first().textContent({ timeout: 1_000 })) ?? "";
      if (pattern.test(last)) return last;
    } catch {
      /* not there yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`expected text matching ${pattern}, last saw ${JSON.stringify(last)}`);
}

/** Signs in through the sign-in page and waits for the page it lands on. */
export async function signIn(page, email, password, { remember = false, next = "" } = {}) {
  await visit(page, next ? `/sign-in?next=${encodeURIComponent(next)}` : "/sign-in");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  if (remember) await page.getByLabel("Keep me signed in on this device").check();
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((url) => url.pathname !== "/sign-in");
  await waitReady(page);
}

/**
 * Creates a confirmed account through the API and the emailed link (no browser). Other
 * registration fields (legal_name, phone) are sent when given.
 */
export async function createConfirmedUser(server, { email, password, display_name, ...more }) {
  const ignore = mailFiles(server.dataDir);
  const json = { "Content-Type": "application/json" };
  const res = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email, password, display_name, ...more }),
  });
  assert.equal(res.status, 202, await res.text());
  const link = await waitForLink(server.dataDir, email, "/verify-email", { ignore });
  const token = new URL(link).searchParams.get("token");
  const verify = await fetch(`${server.url}/api/v1/auth/verify-email`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ token }),
  });
  assert.equal(verify.status, 200, await verify.text());
}

/** Creates the first admin through the API with the bootstrap link printed at start-up. */
export async function createAdmin(server, { email, password, display_name }) {
  const token = new URL(server.bootstrapLink).searchParams.get("token");
  const res = await fetch(`${server.url}/api/v1/bootstrap`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, email, password, display_name }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** Counts requests whose URL path is `path` (and method, when given). */
export function countRequests(page, path, method = null) {
  const counter = { count: 0 };
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === path && (!method || request.method() === method)) counter.count += 1;
  });
  return counter;
}

export function assertNoProblems(problems) {
  assert.deepEqual(problems, [], `the page reported problems:\n${problems.join("\n")}`);
}
