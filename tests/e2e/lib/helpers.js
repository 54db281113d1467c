// Small helpers shared by the browser tests.

import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
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
  const captcha = await solveCaptcha(server);
  const res = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email, password, display_name, ...more, ...(captcha ? { captcha } : {}) }),
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

/**
 * Registers an account with no password (it will sign in with a passkey) through the API;
 * resolves with the emailed /verify-email link, not yet opened.
 */
export async function registerWithoutPassword(server, { email, display_name }) {
  const ignore = mailFiles(server.dataDir);
  const captcha = await solveCaptcha(server);
  const res = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, display_name, ...(captcha ? { captcha } : {}) }),
  });
  assert.equal(res.status, 202, await res.text());
  return waitForLink(server.dataDir, email, "/verify-email", { ignore });
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

/** Leading zero bits of a digest. */
function zeroBits(digest) {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** A solved captcha from the API ({challenge, nonce}), or null when the captcha is off. */
export async function solveCaptcha(server) {
  const c = await (await fetch(`${server.url}/api/v1/captcha`)).json();
  if (!c.enabled) return null;
  for (let n = 0; ; n++) {
    if (zeroBits(createHash("sha256").update(`${c.challenge}:${n}`).digest()) >= c.difficulty) {
      return { challenge: c.challenge, nonce: String(n) };
    }
  }
}

/** The TOTP code (RFC 6238: HMAC-SHA1, 6 digits, 30 s) for a base32 secret, `steps` away. */
export function totp(secretBase32, steps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretBase32.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => Number.parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + steps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, "0");
}

/** Request headers for the API as this account: JSON and a bearer token from /auth/token. */
export async function bearerHeaders(server, { email, password }) {
  const json = { "Content-Type": "application/json" };
  const login = await fetch(`${server.url}/api/v1/auth/token`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  return { ...json, Authorization: `Bearer ${(await login.json()).access_token}` };
}

/** Turns TOTP on for a confirmed account through the API; resolves with the secret. */
export async function enableTotp(server, { email, password }) {
  const auth = await bearerHeaders(server, { email, password });
  const started = await fetch(`${server.url}/api/v1/account/mfa/totp`, { method: "POST", headers: auth });
  assert.equal(started.status, 200);
  const { secret } = await started.json();
  const confirmed = await fetch(`${server.url}/api/v1/account/mfa/totp/confirm`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ code: totp(secret) }),
  });
  assert.equal(confirmed.status, 200, await confirmed.text());
  return secret;
}
