// The OpenID Connect provider driven by a relying-party library this project did not write
// (openid-client, by panva) through the real browser sign-in: discovery, code + PKCE, the ID
// token checked against the JWK set, userinfo, refresh rotation and reuse refused, RP-initiated
// logout, and the back-channel logout token received by a small app and checked with jose.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import * as client from "openid-client";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { BIN, startGatehouse } from "./lib/server.js";
import { launch, openPage } from "./lib/browser.js";
import { assertNoProblems, createConfirmedUser } from "./lib/helpers.js";

const STUDENT = { email: "ada@north.edu", password: "Velvet-Canyon-31", display_name: "Ada" };

let server;
let browser;
let app;
let config;
let clientId;

/** The app: a callback that answers "signed in", a page after logout, a back-channel inbox. */
function startApp() {
  const seen = { paths: [], logoutTokens: [] };
  const http = createServer((req, res) => {
    const url = new URL(req.url, "http://app");
    seen.paths.push(url.pathname);
    if (req.method === "POST" && url.pathname === "/backchannel-logout") {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        seen.logoutTokens.push(new URLSearchParams(body).get("logout_token"));
        res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>North Rides</title><p>ok</p>");
  });
  return new Promise((resolve) => {
    http.listen(0, "127.0.0.1", () => {
      const base = `http://127.0.0.1:${http.address().port}`;
      resolve({ base, seen, close: () => new Promise((done) => http.close(done)) });
    });
  });
}

before(async () => {
  server = await startGatehouse();
  browser = await launch();
  app = await startApp();
  await createConfirmedUser(server, STUDENT);
  const env = { ...process.env, GATEHOUSE_STORAGE__DATA_DIR: server.dataDir };
  delete env.GATEHOUSE_BIN;
  const added = execFileSync(
    BIN,
    [
      "client", "add", "--name", "North Rides", "--trusted",
      "--redirect-uri", `${app.base}/callback`,
      "--post-logout-redirect-uri", `${app.base}/bye`,
      "--backchannel-logout-uri", `${app.base}/backchannel-logout`,
      "--scope", "email", "--scope", "profile", "--json",
    ],
    { env, stdio: "pipe" },
  );
  const credentials = JSON.parse(added.toString());
  clientId = credentials.client_id;
  // Gatehouse is on http://127.0.0.1 in the test: openid-client refuses http unless told.
  config = await client.discovery(new URL(server.url), clientId, credentials.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await server?.stop();
});

/** The logout tokens the app received for session `sid` (read unverified, only to pick). */
function logoutTokensFor(sid) {
  return app.seen.logoutTokens.filter((token) => decodeJwt(token).sid === sid);
}

/**
 * Waits for the back-channel logout token of session `sid`: the worker is woken when a grant
 * ends and polls every 5 s anyway, so up to 10 s is plenty.
 */
async function waitForLogoutToken(sid) {
  for (let i = 0; i < 100 && logoutTokensFor(sid).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const got = logoutTokensFor(sid);
  assert.equal(got.length, 1, `logout tokens for the session: ${got.length}`);
  return got[0];
}

/** The browser's own Gatehouse session, as the first-party API answers it ({user, session}). */
async function browserSession(page) {
  const response = await page.request.get(`${server.url}/api/v1/auth/session`);
  assert.equal(response.status(), 200);
  return response.json();
}

/** Signs in to the app through the browser; returns the library's checked token answer. */
async function signInToApp(page, { typeCredentials }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${app.base}/callback`,
    scope: "openid email profile",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const started = Math.floor(Date.now() / 1000);
  await page.goto(url.href);
  if (typeCredentials) {
    // Not signed in: Gatehouse's own sign-in page, on Gatehouse's origin.
    await page.waitForURL((u) => u.origin === server.url && u.pathname === "/sign-in");
    await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
    await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }
  await page.waitForURL((u) => u.href.startsWith(`${app.base}/callback`));
  const callback = new URL(page.url());
  // RFC 9207: the issuer comes back with the code (the library checks it too, because
  // discovery announces authorization_response_iss_parameter_supported).
  assert.equal(callback.searchParams.get("iss"), server.url);
  assert.equal(callback.searchParams.get("state"), state);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  const claims = tokens.claims();
  assert.ok(
    Number.isInteger(claims.auth_time) && claims.auth_time >= started - 1 && claims.auth_time <= Math.floor(Date.now() / 1000) + 1,
    `auth_time ${claims.auth_time} is not the sign-in just made`,
  );
  return tokens;
}

test("openid-client signs in through the browser, reads userinfo, rotates refresh tokens and is refused a reused one", async () => {
  const { context, page, problems } = await openPage(browser, { baseURL: server.url });
  try {
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, server.url);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);
    const tokens = await signInToApp(page, { typeCredentials: true });
    // The ID token's signature, issuer, audience, expiry, nonce and at_hash were checked by
    // the library against the JWK set; the claims are Gatehouse's.
    const claims = tokens.claims();
    assert.equal(claims.iss, server.url);
    assert.equal(claims.aud, clientId);
    assert.equal(claims.email, STUDENT.email);
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, STUDENT.display_name);
    assert.deepEqual(claims.amr, ["pwd"]);
    // sub is the account's id and sid the browser's Gatehouse session.
    const who = await browserSession(page);
    assert.equal(claims.sub, who.user.id);
    assert.equal(claims.sid, who.session.id);

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, STUDENT.email);

    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(rotated.refresh_token, tokens.refresh_token);
    assert.equal(rotated.claims().sid, claims.sid);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === "invalid_grant");
    // The reuse ended the grant: the new refresh token is refused too.
    await assert.rejects(client.refreshTokenGrant(config, rotated.refresh_token), (e) => e.error === "invalid_grant");
    await assert.rejects(client.fetchUserInfo(config, rotated.access_token, claims.sub));
    // A grant ended as stolen is a logout for the app (src/oidc/backchannel.rs); the student's
    // Gatehouse session itself goes on.
    await waitForLogoutToken(claims.sid);
    assert.equal((await browserSession(page)).session.id, claims.sid);
    assertNoProblems(problems);
  } finally {
    await context.close();
  }
});

test("ending the session at Gatehouse returns to the app and posts it a logout token it can verify", async () => {
  const { context, page, problems } = await openPage(browser, { baseURL: server.url });
  try {
    const tokens = await signInToApp(page, { typeCredentials: true });
    const claims = tokens.claims();
    assert.equal((await browserSession(page)).session.id, claims.sid);
    const cookie = (await context.cookies(server.url)).find((c) => c.name === "gatehouse_session");
    assert.ok(cookie, "the browser holds a Gatehouse session cookie");
    const withOldCookie = () =>
      fetch(`${server.url}/api/v1/auth/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal((await withOldCookie()).status, 200);
    assert.equal(logoutTokensFor(claims.sid).length, 0);
    const end = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: `${app.base}/bye`,
      state: "bye-1",
    });
    assert.equal(end.searchParams.get("client_id"), clientId);
    await page.goto(end.href);
    // With a valid id_token_hint of the signed-in student: no confirmation page, straight back.
    await page.waitForURL((u) => u.href.startsWith(`${app.base}/bye`));
    assert.equal(new URL(page.url()).searchParams.get("state"), "bye-1");
    const session = await page.request.get(`${server.url}/api/v1/auth/session`);
    assert.equal(session.status(), 401);
    // Ended on the server, not only forgotten by the browser: the old cookie is refused.
    assert.equal((await withOldCookie()).status, 401);

    // The back-channel worker is woken by the sign-out; allow it a few seconds.
    const logoutToken = await waitForLogoutToken(claims.sid);
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(logoutToken, jwks, {
      issuer: server.url,
      audience: clientId,
      typ: "logout+jwt",
    });
    assert.equal(protectedHeader.alg, "RS256");
    assert.equal(payload.sid, claims.sid);
    assert.equal(payload.sub, claims.sub);
    assert.deepEqual(payload.events, { "http://schemas.openid.net/event/backchannel-logout": {} });
    assert.equal(payload.nonce, undefined);
    assert.ok(typeof payload.jti === "string" && payload.jti.length > 0);
    // The app's tokens ended with the session.
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, claims.sub));
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === "invalid_grant");
    assertNoProblems(problems);
  } finally {
    await context.close();
  }
});

test("a redirect URI that is not registered gets Gatehouse's error page and is never redirected to", async () => {
  const { context, page, problems } = await openPage(browser, { baseURL: server.url });
  try {
    const before = app.seen.paths.length;
    const url = client.buildAuthorizationUrl(config, {
      // Same origin as the registered /callback, another path: the match must be exact.
      redirect_uri: `${app.base}/evil`,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
      state: "s",
    });
    const response = await page.goto(url.href);
    assert.equal(response.status(), 400);
    assert.ok(page.url().startsWith(server.url), page.url());
    await page.getByRole("heading", { name: "This sign-in cannot go on" }).waitFor();
    // Neither /evil nor /callback was ever asked for.
    assert.deepEqual(app.seen.paths.slice(before), []);
    assertNoProblems(problems);
  } finally {
    await context.close();
  }
});
