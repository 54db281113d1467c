// The OpenID Connect provider driven by a relying-party library this project did not write
// (openid-client, by panva) through the real browser sign-in: discovery, code + PKCE, the ID
// token checked against the JWK set, userinfo, refresh rotation and reuse refused, RP-initiated
// logout, and the back-channel logout token received by a small app and checked with jose.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { BIN, startGatehouse } from "./lib/server.js";
import { launch, openPage } from "./lib/browser.js";
import { createConfirmedUser } from "./lib/helpers.js";

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
  await page.goto(url.href);
  if (typeCredentials) {
    await page.waitForURL((u) => u.pathname === "/sign-in");
    await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
    await page.getByLabel("Password", { exact: true }).fill(STUDENT.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }
  await page.waitForURL((u) => u.href.startsWith(`${app.base}/callback`));
  return client.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
}

test("openid-client signs in through the browser, reads userinfo, rotates refresh tokens and is refused a reused one", async () => {
  const { context, page } = await openPage(browser, { baseURL: server.url });
  try {
    assert.equal(config.serverMetadata().issuer, server.url);
    const tokens = await signInToApp(page, { typeCredentials: true });
    // The ID token's signature, issuer, audience, expiry, nonce and at_hash were checked by
    // the library against the JWK set; the claims are Gatehouse's.
    const claims = tokens.claims();
    assert.equal(claims.email, STUDENT.email);
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, STUDENT.display_name);
    assert.ok(claims.sid && claims.auth_time && claims.amr.includes("pwd"), JSON.stringify(claims));

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, STUDENT.email);

    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(rotated.refresh_token, tokens.refresh_token);
    assert.equal(rotated.claims().sid, claims.sid);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === "invalid_grant");
    // The reuse ended the grant: the new refresh token is refused too.
    await assert.rejects(client.refreshTokenGrant(config, rotated.refresh_token), (e) => e.error === "invalid_grant");
  } finally {
    await context.close();
  }
});

test("ending the session at Gatehouse returns to the app and posts it a logout token it can verify", async () => {
  const { context, page } = await openPage(browser, { baseURL: server.url });
  try {
    const tokens = await signInToApp(page, { typeCredentials: true });
    const claims = tokens.claims();
    // (The refresh token reused in the test before ended that grant: its logout came already.)
    const earlier = app.seen.logoutTokens.length;
    const end = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: `${app.base}/bye`,
      state: "bye-1",
    });
    await page.goto(end.href);
    await page.waitForURL((u) => u.href.startsWith(`${app.base}/bye`));
    assert.equal(new URL(page.url()).searchParams.get("state"), "bye-1");
    const session = await page.request.get(`${server.url}/api/v1/auth/session`);
    assert.equal(session.status(), 401);

    // The back-channel worker is woken by the sign-out; allow it a few seconds.
    for (let i = 0; i < 100 && app.seen.logoutTokens.length === earlier; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(app.seen.logoutTokens.length, earlier + 1);
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(app.seen.logoutTokens[earlier], jwks, {
      issuer: server.url,
      audience: clientId,
      typ: "logout+jwt",
    });
    assert.equal(protectedHeader.alg, "RS256");
    assert.equal(payload.sid, claims.sid);
    assert.equal(payload.sub, claims.sub);
    assert.deepEqual(payload.events, { "http://schemas.openid.net/event/backchannel-logout": {} });
    assert.equal(payload.nonce, undefined);
    // The app's tokens ended with the session.
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, claims.sub));
  } finally {
    await context.close();
  }
});

test("a redirect URI that is not registered gets Gatehouse's error page and is never redirected to", async () => {
  const { context, page } = await openPage(browser, { baseURL: server.url });
  try {
    const before = app.seen.paths.length;
    const url = client.buildAuthorizationUrl(config, {
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
    assert.deepEqual(app.seen.paths.slice(before), []);
  } finally {
    await context.close();
  }
});
