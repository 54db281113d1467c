// Driver verification in the browser: a student uploads a generated licence (previews and
// progress), sees what was read; an admin sees the images beside the fields and approves it;
// the student enables driving and switches availability on and off. The images come from
// examples/licence_image.rs (scripts/e2e.sh builds it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gatehouseSuite } from "./lib/suite.js";
import { BIN } from "./lib/server.js";
import { axeViolations, screenshot, visit, PHONE } from "./lib/browser.js";
import { assertNoProblems, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const DRIVER = { email: "maria@north.edu", password: "Silver-Kettle-84", display_name: "Maria", legal_name: "María García" };
const ADMIN = { email: "it@north.edu", password: "Granite-Signal-58", display_name: "Campus IT" };
const GENERATOR = process.env.LICENCE_IMAGE_BIN || join(dirname(BIN), "examples", "licence_image");

const images = mkdtempSync(join(tmpdir(), "gatehouse-licence-"));
const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, DRIVER);
  await createAdmin(server, ADMIN);
  assert.ok(existsSync(GENERATOR), `no licence generator at ${GENERATOR}: cargo build --example licence_image`);
  const expiry = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  execFileSync(GENERATOR, [images, "Maria", "Garcia", expiry], { stdio: "pipe" });
});
process.on("exit", () => rmSync(images, { recursive: true, force: true }));

test("a first licence is uploaded, approved by an admin, and the driver switches availability", async () => {
  const student = await suite.newPage();
  await signIn(student.page, DRIVER.email, DRIVER.password);
  await visit(student.page, "/driver");
  await expectText(student.page.locator(".driver-status"), /not uploaded a driving licence/);

  // Nothing chosen: refused in the page.
  await student.page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(student.page.locator("form .form-summary.is-shown"), /Choose a photo of the front and the back/);

  await student.page.getByLabel("Front of the licence").setInputFiles(join(images, "front.png"));
  await student.page.getByLabel("Back of the licence (with the barcode)").setInputFiles(join(images, "back.png"));
  await student.page.getByRole("img", { name: "Preview of the back you chose" }).waitFor();
  await student.page.getByRole("img", { name: "Preview of the front you chose" }).waitFor();
  await student.page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(student.page.locator(".driver-status"), /waiting for a reviewer/, 30_000);
  await expectText(student.page.locator(".licence-facts"), /GARCIA/);
  await expectText(student.page.locator(".licence-facts"), /D12345678/);
  await expectText(student.page.locator(".licence-facts"), /the barcode/);
  await screenshot(student.page, "driver-pending");
  assertNoProblems(student.problems);

  // The admin: images and fields side by side, then approve.
  const admin = await suite.newPage({ bypassCSP: true });
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  await visit(admin.page, "/driver-reviews");
  const review = admin.page.locator("article.review").first();
  await review.waitFor();
  await expectText(review, /María García/);
  const back = review.getByRole("img", { name: "Back of the licence uploaded by Maria" });
  await back.scrollIntoViewIfNeeded();
  // The image is lazy and the server decrypts it first: wait for it to load, not just appear.
  const loaded = await admin.page
    .waitForFunction((img) => img.complete && img.naturalWidth > 100, await back.elementHandle(), {
      timeout: 30_000,
      polling: 100,
    })
    .then(() => true, () => false);
  assert.ok(loaded, "the back image loads");
  assert.deepEqual(await axeViolations(admin.page), []);
  await screenshot(admin.page, "driver-review");
  await review.getByRole("button", { name: "Approve Maria" }).click();
  await expectText(admin.page.locator("main"), /Maria is approved/);
  await expectText(admin.page.locator("main"), /No licence is waiting/);
  assertNoProblems(admin.problems);

  // The driver: approved, enables driving, switches availability.
  await visit(student.page, "/driver");
  await expectText(student.page.locator(".driver-status"), /approved driver/);
  await student.page.getByRole("button", { name: "Enable driving" }).click();
  const available = student.page.getByRole("switch", { name: "Available for rides" });
  await available.waitFor();
  assert.equal(await available.isChecked(), false);
  await available.check();
  await expectText(student.page.locator("main [role=status]"), /You are available for rides/);
  await available.uncheck();
  await expectText(student.page.locator("main [role=status]"), /You are not available for rides/);
  await student.page.reload();
  await student.page.getByRole("switch", { name: "Available for rides" }).waitFor();
  assert.equal(await student.page.getByRole("switch", { name: "Available for rides" }).isChecked(), false);
  assertNoProblems(student.problems);
});

test("an approved driver is told when a new licence will be accepted", async () => {
  const { page, problems } = await suite.newPage({ viewport: PHONE });
  await signIn(page, DRIVER.email, DRIVER.password);
  await visit(page, "/driver");
  await expectText(page.locator("main"), /You can upload the new one from/);
  assertNoProblems(problems);
});

test("a file that is not a JPEG or PNG is refused with the reason", async () => {
  const other = { email: "zip@north.edu", password: "Quiet-Lantern-77", display_name: "Zed", legal_name: "Zed Zip" };
  await createConfirmedUser(suite.server, other);
  const fake = join(images, "not-an-image.png");
  writeFileSync(fake, "PK\u0003\u0004 this is a zip archive");
  const { page, problems } = await suite.newPage();
  await signIn(page, other.email, other.password);
  await visit(page, "/driver");
  await page.getByLabel("Front of the licence").setInputFiles(join(images, "front.png"));
  await page.getByLabel("Back of the licence (with the barcode)").setInputFiles(fake);
  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator("form .form-summary.is-shown"), /back image is not a JPEG or PNG/);
  await expectText(page.locator(".driver-status"), /not uploaded a driving licence/);
  // The failed request is logged by the browser as a console error; that is expected here.
  assert.ok(problems.every((p) => p.includes("422")), problems.join("\n"));
});
