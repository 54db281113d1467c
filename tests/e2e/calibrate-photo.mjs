// The sharpness of generated licence photos as the driver page measures it
// (assets/js/licence-photo.js), for calibrating its MIN_SHARPNESS; not a test.
//
//     node calibrate-photo.mjs    (from tests/e2e; LICENCE_IMAGE_BIN and GATEHOUSE_BIN as for the tests)
//
// It writes cards 800 to 3200 pixels wide, sharp and blurred (the sigma is given per 1400
// pixels of card, so the blur is the same relative to the card at every size), plus noisy JPEG
// ones as a phone takes them, and prints the front's and the back's sharpness for each.
// Generating them takes minutes in a debug build: CALIBRATE_IMAGES=DIR keeps them in DIR and
// reuses them on the next run.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startGatehouse, BIN } from "./lib/server.js";
import { launch, openPage } from "./lib/browser.js";

const GENERATOR = process.env.LICENCE_IMAGE_BIN || join(dirname(BIN), "licence_image");
const WIDTHS = [800, 1400, 2400, 3200];
const SIGMAS = [0, 1, 1.5, 2, 3, 4, 6, 8];
const PHONE_LIKE = [
  ["noisy sd 8, JPEG 90", ["--noise", "8", "--jpeg", "90"]],
  ["sigma 4 + noise 8, JPEG 90", ["--blur", "4", "--noise", "8", "--jpeg", "90"]],
  ["sigma 6 + noise 8, JPEG 90", ["--blur", "6", "--noise", "8", "--jpeg", "90"]],
];

const keep = process.env.CALIBRATE_IMAGES;
const dir = keep || mkdtempSync(join(tmpdir(), "gatehouse-calibrate-"));
const generate = (name, args) => {
  const out = join(dir, name);
  if (!existsSync(out)) execFileSync(GENERATOR, [out, "Maria", "Garcia", "2030-01-01", ...args], { stdio: "pipe" });
  const ext = args.includes("--jpeg") ? "jpg" : "png";
  return ["front", "back"].map((side) => readFileSync(join(out, `${side}.${ext}`)).toString("base64"));
};

const server = await startGatehouse();
const browser = await launch();
try {
  const { page } = await openPage(browser, { baseURL: server.url });
  await page.goto("/");
  const measure = (files) =>
    page.evaluate(async (encoded) => {
      const { sharpness } = await import("/assets/js/licence-photo.js");
      const out = [];
      for (const base64 of encoded) {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes]));
        out.push(Math.round(sharpness(bitmap)));
        bitmap.close();
      }
      return out;
    }, files);
  console.log(`card width  sigma/1400  front  back`);
  for (const width of WIDTHS) {
    for (const sigma of SIGMAS) {
      const args = ["--width", String(width)];
      if (sigma) args.push("--blur", ((sigma * width) / 1400).toFixed(2));
      const [front, back] = await measure(generate(`w${width}-s${sigma}`, args));
      console.log(`${String(width).padStart(10)}  ${String(sigma).padStart(10)}  ${String(front).padStart(5)}  ${String(back).padStart(5)}`);
    }
  }
  for (const [label, args] of PHONE_LIKE) {
    const [front, back] = await measure(generate(label.replace(/\W+/g, "-"), args));
    console.log(`1400, ${label}: front ${front}, back ${back}`);
  }
} finally {
  await browser.close();
  await server.stop();
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
