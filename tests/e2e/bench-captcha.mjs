// How fast the web UI's proof-of-work solver (assets/js/captcha-worker.js) runs in Chromium,
// for calibrating `captcha.difficulty`. Run by scripts/bench/captcha.sh; not a test.
//
// It starts the real binary, opens a page, and solves CHALLENGES fresh challenges at difficulty
// 20 in the same Web Worker the sign-up page uses, recording hashes per second. A phone is
// taken to be 4 to 6 times slower than this machine's core: 4x is Chrome DevTools' and
// Lighthouse's CPU slowdown for a "mid-tier mobile" device, 6x for a "low-end mobile" one.

import { startGatehouse } from "./lib/server.js";
import { launch, openPage } from "./lib/browser.js";

const CHALLENGES = Number(process.env.CHALLENGES || 12);
const server = await startGatehouse();
const browser = await launch();
try {
  const { page } = await openPage(browser, { baseURL: server.url });
  await page.goto("/");
  const runs = await page.evaluate(async (count) => {
    const runs = [];
    for (let i = 0; i < count; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      const id = btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x");
      const challenge = `${id}.1900000000.20.${"m".repeat(43)}`;
      runs.push(
        await new Promise((resolve) => {
          const worker = new Worker("/assets/js/captcha-worker.js");
          worker.onmessage = ({ data }) => {
            if (data.type !== "solved") return;
            worker.terminate();
            resolve({ tried: data.tried, ms: data.ms });
          };
          worker.postMessage({ challenge, difficulty: 20 });
        }),
      );
    }
    return runs;
  }, CHALLENGES);
  const tried = runs.reduce((n, r) => n + r.tried, 0);
  const ms = runs.reduce((n, r) => n + r.ms, 0);
  const rate = tried / (ms / 1000);
  const fmt = (n) => Math.round(n).toLocaleString("en-GB");
  console.log(`Chromium Web Worker, ${CHALLENGES} challenges at difficulty 20: ${fmt(tried)} hashes in ${fmt(ms)} ms`);
  console.log(`  this machine: ${fmt(rate)} hashes/s`);
  console.log(`  phone, mid-tier (1/4): ${fmt(rate / 4)} hashes/s; low-end (1/6): ${fmt(rate / 6)} hashes/s`);
  console.log("");
  console.log("  difficulty   mean hashes   this machine   mid-tier phone   low-end phone");
  for (let d = 14; d <= 21; d++) {
    const expected = 2 ** d;
    const s = (r) => `${(expected / r).toFixed(2)} s`.padStart(14);
    console.log(`  ${String(d).padStart(10)}   ${fmt(expected).padStart(11)}   ${s(rate)}   ${s(rate / 4).padStart(14)}   ${s(rate / 6).padStart(13)}`);
  }
} finally {
  await browser.close();
  await server.stop();
}
