// Debian's chromium driven by playwright-core, plus the checks every test uses: page errors
// and CSP refusals fail the test, axe-core scans, screenshots saved as artefacts.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const ARTIFACTS = process.env.E2E_ARTIFACTS || join(here, "..", "artifacts");
export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * Starts Chromium. Playwright turns the back/forward cache off by default;
 * `backForwardCache: true` keeps it on, as in a real browser (for the back button after
 * sign-out).
 */
export async function launch({ backForwardCache = false } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: backForwardCache ? ["--disable-back-forward-cache"] : [],
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A new browser context (its own cookies) and page. `problems` collects uncaught page errors,
 * CSP refusals and failed requests other than expected 4xx answers of the API.
 */
export async function openPage(browser, { viewport = DESKTOP, baseURL } = {}) {
  const context = await browser.newContext({ viewport, baseURL, locale: "en-GB", timezoneId: "UTC" });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    // The API answers 4xx by design (e.g. 401 once a session has ended). Signed-out pages
    // make no such request at all: quiet.test.js counts every one.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  return { context, page, problems };
}

/** Goes to `path` and waits until the page module has rendered. */
export async function visit(page, path) {
  await page.goto(path);
  await waitReady(page);
}

export async function waitReady(page) {
  await page.waitForSelector('body[data-ready="true"]', { state: "attached" });
}

/**
 * Runs axe-core on the page; returns the serious and critical violations, readably. axe is
 * evaluated through the DevTools protocol, which the page's CSP does not govern (an injected
 * <script> would be an inline script, which it refuses): pages are scanned under their real
 * CSP, and any refusal it reports fails the test.
 */
export async function axeViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"], runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] } }),
  );
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(" ")}: ${n.failureSummary}`).join("\n")}`);
}

/** Saves a screenshot (of the whole page unless fullPage is false) as artifacts/<name>.png. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
