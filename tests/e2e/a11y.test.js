// An axe-core scan of every page (and of the states that matter: errors shown, the strength
// meter, the phone code step, the timeout warning, admin forms, passkeys) at desktop and phone
// width; serious or critical violations fail. A screenshot of each is saved in artifacts/.
// The server's public_url is http://localhost:<port>, so that the pages show their passkey
// controls (WebAuthn refuses an IP address); the "keyholder" profiles have Chromium's virtual
// authenticator (see passkeys.test.js).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { BIN, startGatehouse } from "./lib/server.js";
import { axeViolations, launch, openPage, screenshot, visit, DESKTOP, PHONE } from "./lib/browser.js";
import {
  assertNoProblems,
  createAdmin,
  createConfirmedUser,
  enableTotp,
  expectText,
  registerWithoutPassword,
  signIn,
} from "./lib/helpers.js";

const STUDENT = { email: "ada@north.edu", password: "Velvet-Canyon-31", display_name: "Ada" };
const ADMIN = { email: "root@north.edu", password: "Copper-Meadow-64", display_name: "Campus IT" };
const TWO_STEP = { email: "otto@north.edu", password: "Maple-Harbour-26", display_name: "Otto" };
const KEYHOLDER = { email: "kai@north.edu", password: "Amber-Orchard-58", display_name: "Kai" };

let server;
let browser;
const contexts = new Map();
/** An app not marked trusted, so that its sign-in asks for consent. */
let clubApp;

before(async () => {
  server = await startGatehouse({ publicHost: "localhost" });
  browser = await launch();
  await createConfirmedUser(server, STUDENT);
  await createConfirmedUser(server, KEYHOLDER);
  await createAdmin(server, ADMIN);
  await createConfirmedUser(server, TWO_STEP);
  await enableTotp(server, TWO_STEP);
  const env = { ...process.env, GATEHOUSE_STORAGE__DATA_DIR: server.dataDir };
  delete env.GATEHOUSE_BIN;
  const added = execFileSync(
    BIN,
    ["client", "add", "--name", "Club Rides", "--redirect-uri", "https://club.north.edu/callback", "--scope", "email", "--json"],
    { env, stdio: "pipe" },
  );
  clubApp = JSON.parse(added.toString()).client_id;
});

/** An authorization request of the club's app (PKCE challenge of a fixed verifier). */
function clubSignIn() {
  const query = new URLSearchParams({
    client_id: clubApp,
    redirect_uri: "https://club.north.edu/callback",
    response_type: "code",
    scope: "openid email",
    state: "s",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });
  return `/oauth/authorize?${query}`;
}

after(async () => {
  for (const { context } of contexts.values()) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

/** One browser profile per role and width, signed in as that role, under the real CSP. */
async function pageFor(role, viewport) {
  const key = `${role}:${viewport.width}`;
  if (!contexts.has(key)) {
    const opened = await openPage(browser, { baseURL: server.url, viewport });
    if (role === "student") await signIn(opened.page, STUDENT.email, STUDENT.password);
    if (role === "keyholder") {
      // A device with a platform authenticator, signed in just now (adding a passkey then
      // needs no password again).
      const cdp = await opened.context.newCDPSession(opened.page);
      await cdp.send("WebAuthn.enable");
      await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await signIn(opened.page, KEYHOLDER.email, KEYHOLDER.password);
    }
    if (role === "admin") await signIn(opened.page, ADMIN.email, ADMIN.password);
    contexts.set(key, opened);
  }
  return contexts.get(key);
}

const submitEmpty = (button) => async (page) => {
  await page.getByRole("button", { name: button, exact: true }).click();
  await page.locator("form .form-summary.is-shown").first().waitFor();
};

/**
 * Asks for a code on the page's phone form (/phone, or the account page's Phone section) and
 * waits for the code step. Each width gets its own number: a number gets one code a minute.
 */
const askForCode = (number) => async (page) => {
  const typed = `${number}${page.viewportSize().width === PHONE.width ? 1 : 0}`;
  await page.getByLabel("Mobile number").fill(typed);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await expectText(page.locator(".code-notice"), /code/);
  await expectText(page.locator(".countdown"), /new code in/);
};

const scenarios = [
  { name: "home", role: "guest", path: "/" },
  { name: "sign-up", role: "guest", path: "/sign-up" },
  { name: "sign-up-errors", role: "guest", path: "/sign-up", act: submitEmpty("Create account") },
  {
    name: "sign-up-strength",
    role: "guest",
    path: "/sign-up",
    act: async (page) => {
      await page.getByLabel("Campus email").fill("new@north.edu");
      await page.getByLabel("Password", { exact: true }).fill("Pass1");
      await expectText(page.locator(".strength-text"), /Password strength/);
    },
  },
  { name: "sign-in", role: "guest", path: "/sign-in" },
  {
    name: "sign-in-error",
    role: "guest",
    path: "/sign-in",
    act: async (page) => {
      await page.getByLabel("Email", { exact: true }).fill(STUDENT.email);
      await page.getByLabel("Password", { exact: true }).fill("Wrong-Password-1");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expectText(page.locator("form .form-summary"), /not right/);
    },
  },
  {
    name: "sign-in-second-step",
    role: "guest",
    path: "/sign-in",
    act: async (page) => {
      await page.getByLabel("Email", { exact: true }).fill(TWO_STEP.email);
      await page.getByLabel("Password", { exact: true }).fill(TWO_STEP.password);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByLabel("Code", { exact: true }).fill("000000");
      await page.getByRole("button", { name: "Continue" }).click();
      await expectText(page.locator("form .form-summary.is-shown"), /not right/);
    },
  },
  { name: "sign-in-expired", role: "guest", path: "/sign-in?expired=1&next=%2Faccount" },
  { name: "verify-email", role: "guest", path: "/verify-email" },
  {
    name: "verify-email-bad-link",
    role: "guest",
    path: "/verify-email?token=made-up",
    act: async (page) => expectText(page.locator("main"), /not valid/),
  },
  { name: "forgot-password", role: "guest", path: "/forgot-password" },
  { name: "forgot-password-errors", role: "guest", path: "/forgot-password", act: submitEmpty("Email me a reset link") },
  { name: "reset-password", role: "guest", path: "/reset-password?token=made-up" },
  { name: "reset-password-no-token", role: "guest", path: "/reset-password" },
  { name: "bootstrap", role: "guest", path: "/bootstrap?token=made-up" },
  { name: "phone", role: "guest", path: "/phone" },
  { name: "phone-errors", role: "guest", path: "/phone", act: submitEmpty("Send me a code") },
  { name: "phone-code", role: "guest", path: "/phone", act: askForCode("+91 98765 1000") },
  {
    name: "phone-code-error",
    role: "guest",
    path: "/phone",
    act: async (page) => {
      await askForCode("+91 98765 1001")(page);
      await page.getByLabel("Code from the SMS").fill("123456");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expectText(page.locator("form .form-summary.is-shown"), /did not work/);
    },
  },
  { name: "driver", role: "guest", path: "/driver" },
  { name: "privacy-policy", role: "guest", path: "/privacy-policy" },
  {
    name: "driver-upload",
    role: "student",
    path: "/driver",
    act: async (page) => page.getByRole("form", { name: "Upload your driving licence" }).waitFor(),
  },
  {
    name: "driver-upload-errors",
    role: "student",
    path: "/driver",
    act: async (page) => {
      await page.getByRole("button", { name: "Upload licence" }).click();
      await expectText(page.locator("form .form-summary.is-shown"), /Choose a photo/);
    },
  },
  { name: "driver-reviews-empty", role: "admin", path: "/driver-reviews", act: async (page) => expectText(page.locator("main"), /No licence is waiting/) },
  { name: "driver-reviews-not-allowed", role: "student", path: "/driver-reviews" },
  { name: "home-signed-in", role: "student", path: "/" },
  { name: "account", role: "student", path: "/account", act: async (page) => page.locator(".session-list > li").first().waitFor() },
  {
    name: "account-two-step-enrol",
    role: "student",
    path: "/account",
    act: async (page) => {
      await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
      await page.getByRole("img", { name: /QR code/ }).waitFor();
    },
  },
  { name: "account-phone-code", role: "student", path: "/account", act: askForCode("+91 98765 1002") },
  {
    name: "account-delete-errors",
    role: "student",
    path: "/account",
    act: async (page) => {
      const form = page.getByRole("form", { name: "Delete your account" });
      await form.getByRole("button", { name: "Delete my account" }).click();
      await form.locator(".form-summary.is-shown").waitFor();
    },
  },
  { name: "admin-not-allowed", role: "student", path: "/admin" },
  { name: "admin", role: "admin", path: "/admin", act: async (page) => page.locator(".campus-list > li").first().waitFor() },
  { name: "admin-start", role: "admin", path: "/admin/start", act: async (page) => page.locator("li.start-step .step-status").first().waitFor() },
  {
    name: "admin-edit",
    role: "admin",
    path: "/admin",
    act: async (page) => {
      await page.getByRole("button", { name: "Edit North" }).click();
      await page.getByRole("form", { name: "Edit North" }).waitFor();
    },
  },
  {
    name: "admin-remove-confirm",
    role: "admin",
    path: "/admin",
    act: async (page) => {
      await page.getByRole("button", { name: "Remove North" }).click();
      await page.getByRole("button", { name: "Yes, remove North" }).waitFor();
    },
  },
  {
    name: "consent",
    role: "student",
    path: "/account",
    act: async (page) => {
      await visit(page, clubSignIn());
      await page.getByRole("button", { name: "Don't allow" }).waitFor();
      assert.match(page.url(), /\/consent\?/);
    },
  },
  {
    name: "sign-out-asked",
    role: "student",
    path: "/sign-out",
    act: async (page) => page.getByRole("link", { name: "Stay signed in" }).waitFor(),
  },
  {
    name: "device-wrong-code",
    role: "student",
    path: "/device",
    act: async (page) => {
      await page.getByLabel("Code shown on the device").fill("BCDF-GHJK");
      await page.getByRole("button", { name: "Continue" }).click();
      await expectText(page.locator("form .form-summary.is-shown"), /No app is waiting for this code/);
    },
  },
  { name: "admin-users", role: "admin", path: "/admin/users", act: async (page) => page.locator(".account-list > li").first().waitFor() },
  { name: "admin-audit", role: "admin", path: "/admin/audit", act: async (page) => page.locator("table.data tbody tr").first().waitFor() },
  { name: "admin-backups", role: "admin", path: "/admin/backups", act: async (page) => page.locator(".outbox-counts").waitFor() },
  {
    name: "admin-apps",
    role: "admin",
    path: "/admin/apps",
    act: async (page) => {
      // Run at two sizes on one server: one app each.
      const name = `Rides ${page.viewportSize().width}`;
      const form = page.getByRole("form", { name: "Register an app" });
      await form.getByLabel("App name").fill(name);
      await form.getByLabel("Redirect URIs").fill("https://rides.north.edu/callback");
      await form.getByRole("button", { name: "Register the app" }).click();
      await page.locator(".client-secret").waitFor();
      await page.getByRole("button", { name: `Remove ${name}` }).click();
      await page.getByRole("button", { name: `Yes, remove ${name}` }).waitFor();
    },
  },
  {
    name: "admin-webhooks",
    role: "admin",
    path: "/admin/webhooks",
    act: async (page) => {
      // Run at two sizes on one server: one webhook each.
      const url = `https://rides.north.edu/hooks/${page.viewportSize().width}`;
      const form = page.getByRole("form", { name: "Add a webhook" });
      await form.getByLabel("URL").fill(url);
      await form.getByRole("button", { name: "Add the webhook" }).click();
      await page.locator(".client-secret").waitFor();
      await page.getByRole("button", { name: `Deliveries to ${url}` }).click();
      await page.getByText("Nothing sent there yet.").waitFor();
    },
  },
  {
    name: "sign-in-passkey-error",
    role: "guest",
    path: "/sign-in",
    act: async (page) => {
      // The server's answer to a busy address, in the passkey part's alert.
      await page.route("**/api/v1/auth/passkey/options", (route) =>
        route.fulfill({
          status: 429,
          headers: { "Retry-After": "60" },
          contentType: "application/problem+json",
          body: JSON.stringify({ type: "urn:gatehouse:problem:rate_limited", title: "Too Many Requests", status: 429, detail: "Too many requests.", code: "rate_limited" }),
        }),
      );
      await page.getByRole("button", { name: "Sign in with a passkey" }).click();
      await expectText(page.locator(".passkey-result"), /Too many tries/);
      await page.unroute("**/api/v1/auth/passkey/options");
    },
  },
  {
    name: "sign-up-passkey",
    role: "guest",
    path: "/sign-up",
    act: async (page) => page.getByLabel("Use a passkey instead").check(),
  },
  {
    name: "verify-email-choose",
    role: "guest",
    path: "/",
    act: async (page) => {
      const link = await registerWithoutPassword(server, { email: `pat${page.viewportSize().width}@north.edu`, display_name: "Pat" });
      await visit(page, link);
      await page.getByRole("button", { name: "Set a password instead" }).click();
      await page.getByLabel("New password", { exact: true }).fill("Pass1");
      await expectText(page.locator(".strength-text"), /Password strength/);
    },
  },
  {
    name: "verify-email-passkey-added",
    role: "keyholder",
    path: "/",
    act: async (page) => {
      const link = await registerWithoutPassword(server, { email: `lee${page.viewportSize().width}@north.edu`, display_name: "Lee" });
      await visit(page, link);
      await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
      await page.getByRole("heading", { name: "Passkey added" }).waitFor();
    },
  },
  {
    name: "reset-password-passkey",
    role: "guest",
    path: "/reset-password?token=made-up",
    act: async (page) => {
      await page.getByRole("button", { name: "Add a passkey instead" }).click();
      await page.getByLabel("Name for this passkey").fill("");
      await page.getByRole("button", { name: "Add a passkey", exact: true }).click();
      await page.locator("form .form-summary.is-shown").waitFor();
    },
  },
  {
    name: "account-passkey-added",
    role: "keyholder",
    path: "/account",
    act: async (page) => {
      const name = `Laptop ${page.viewportSize().width}`;
      const section = page.getByRole("region", { name: "Passkeys" });
      await section.getByRole("button", { name: "Add a passkey" }).click();
      await section.getByLabel("Name for this passkey").fill(name);
      await section.getByRole("button", { name: "Create the passkey" }).click();
      await expectText(section.locator(".form-result"), /is added/);
      await section.getByRole("button", { name: `Rename ${name}` }).click();
      await section.getByRole("form", { name: `Rename ${name}` }).waitFor();
    },
  },
  {
    name: "account-passkey-remove-confirm",
    role: "keyholder",
    path: "/account",
    act: async (page) => {
      const name = `Laptop ${page.viewportSize().width}`;
      await page.getByRole("button", { name: `Remove ${name}` }).click();
      await page.getByRole("button", { name: `Yes, remove ${name}` }).waitFor();
    },
  },
  {
    name: "account-passkey-password-again",
    role: "keyholder",
    path: "/account",
    act: async (page) => {
      // What a session older than 5 minutes is answered (this one is younger).
      await page.route("**/api/v1/account/passkeys/options", (route) =>
        route.fulfill({
          status: 403,
          contentType: "application/problem+json",
          body: JSON.stringify({ type: "urn:gatehouse:problem:reauthentication_required", title: "Forbidden", status: 403, detail: "Enter your password again.", code: "reauthentication_required" }),
        }),
      );
      const section = page.getByRole("region", { name: "Passkeys" });
      await section.getByRole("button", { name: "Add a passkey" }).click();
      await section.getByRole("button", { name: "Create the passkey" }).click();
      await section.getByLabel("Your password", { exact: true }).waitFor();
      await page.unroute("**/api/v1/account/passkeys/options");
    },
  },
];

for (const scenario of scenarios) {
  test(`axe: ${scenario.name}`, async () => {
    for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      const { page, problems } = await pageFor(scenario.role, viewport);
      problems.length = 0;
      await visit(page, scenario.path);
      if (scenario.act) await scenario.act(page);
      const violations = await axeViolations(page);
      await screenshot(page, `${scenario.name}-${label}`);
      assert.equal(await page.locator(".session-ended").count(), 0, "no 'session has ended' notice");
      assert.deepEqual(violations, [], `${scenario.name} at ${label} width:\n${violations.join("\n")}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${scenario.name} scrolls sideways at ${label} width by ${overflow}px`);
      assertNoProblems(problems);
    }
  });
}

test("axe: the session-timeout warning", async () => {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    const opened = await openPage(browser, { baseURL: server.url, viewport });
    contexts.set(`clock:${label}`, opened);
    const { context, page, problems } = opened;
    await context.clock.install();
    await signIn(page, STUDENT.email, STUDENT.password);
    await page.clock.fastForward("28:30");
    await page.getByRole("dialog").waitFor();
    const violations = await axeViolations(page);
    await screenshot(page, `timeout-warning-${label}`, { fullPage: false });
    assert.deepEqual(violations, [], `timeout warning at ${label} width:\n${violations.join("\n")}`);
    assertNoProblems(problems);
  }
});
