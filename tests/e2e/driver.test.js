// Driver verification in the browser: a student uploads a generated licence (previews and
// progress), sees what was read; an admin sees the images beside the fields and approves it;
// the student sees how long the licence is valid, enables driving and switches availability
// on and off. Another licence is rejected with a reason, which its driver then reads. The
// images come from examples/licence_image.rs (scripts/e2e.sh builds it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gatehouseSuite } from "./lib/suite.js";
import { BIN } from "./lib/server.js";
import { axeViolations, screenshot, visit, PHONE } from "./lib/browser.js";
import { assertNoProblems, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const DRIVER = { email: "maria@north.edu", password: "Silver-Kettle-84", display_name: "Maria", legal_name: "María García" };
const REJECTED = { email: "rita@north.edu", password: "Amber-Orchard-93", display_name: "Rita", legal_name: "Rita Lopez" };
const ADMIN = { email: "it@north.edu", password: "Granite-Signal-58", display_name: "Campus IT" };
const GENERATOR = process.env.LICENCE_IMAGE_BIN || join(dirname(BIN), "examples", "licence_image");

const images = mkdtempSync(join(tmpdir(), "gatehouse-licence-"));
const ritaImages = join(images, "rita");
const EXPIRY = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, DRIVER);
  await createConfirmedUser(server, REJECTED);
  await createAdmin(server, ADMIN);
  assert.ok(existsSync(GENERATOR), `no licence generator at ${GENERATOR}: cargo build --example licence_image`);
  execFileSync(GENERATOR, [images, "Maria", "Garcia", EXPIRY], { stdio: "pipe" });
  mkdirSync(ritaImages);
  execFileSync(GENERATOR, [ritaImages, "Rita", "Lopez", EXPIRY], { stdio: "pipe" });
});

/** Uploads both generated images on /driver and waits until the licence waits for review. */
async function uploadLicence(page, dir) {
  await visit(page, "/driver");
  await page.getByLabel("Front of the licence").setInputFiles(join(dir, "front.png"));
  await page.getByLabel("Back of the licence (with the barcode)").setInputFiles(join(dir, "back.png"));
  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator(".driver-status"), /waiting for a reviewer/, 30_000);
}
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
  const admin = await suite.newPage();
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
  // What was read from the licence, beside its images (at desktop width, side by side).
  const facts = review.locator("dl.facts");
  await expectText(facts, /Licence number\s*D12345678/);
  const imagesBox = await review.locator(".review-images").boundingBox();
  const factsBox = await facts.boundingBox();
  assert.ok(factsBox.x >= imagesBox.x + imagesBox.width, `the fields are right of the images: ${JSON.stringify({ imagesBox, factsBox })}`);
  assert.ok(factsBox.y < imagesBox.y + imagesBox.height && imagesBox.y < factsBox.y + factsBox.height, "the fields and images share a row");
  assert.deepEqual(await axeViolations(admin.page), []);
  await screenshot(admin.page, "driver-review");
  await review.getByRole("button", { name: "Approve Maria" }).click();
  await expectText(admin.page.locator("main"), /Maria is approved/);
  await expectText(admin.page.locator("main"), /No licence is waiting/);
  assertNoProblems(admin.problems);

  // The driver: approved, enables driving, switches availability.
  await visit(student.page, "/driver");
  await expectText(student.page.locator(".driver-status"), /approved driver/);
  const until = new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" }).format(new Date(EXPIRY));
  const valid = student.page.locator(".driver-status dt", { hasText: "Licence valid until" }).locator("xpath=following-sibling::dd[1]");
  await expectText(valid, new RegExp(`^${until} \\((399|400) days left\\)$`));
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

test("a licence rejected with a reason: the driver reads the reason", async () => {
  const driver = await suite.newPage();
  await signIn(driver.page, REJECTED.email, REJECTED.password);
  await uploadLicence(driver.page, ritaImages);

  const admin = await suite.newPage();
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  await visit(admin.page, "/driver-reviews");
  const review = admin.page.locator("article.review", { hasText: "Rita Lopez" });
  await review.waitFor();
  const reject = review.getByRole("form", { name: "Reject Rita" });
  // No reason: refused in the page.
  await reject.getByRole("button", { name: "Reject Rita" }).click();
  await expectText(reject.locator('.field[data-field="reason"] .field-error'), /Give the driver a reason/);
  await reject.getByLabel(/Reason for rejecting/).fill("The front photo is blurred: take it again in daylight.");
  await reject.getByRole("button", { name: "Reject Rita" }).click();
  await expectText(admin.page.locator("main"), /Rita's licence is rejected/);
  await review.waitFor({ state: "detached" });
  assertNoProblems(admin.problems);

  await visit(driver.page, "/driver");
  const status = driver.page.locator(".driver-status");
  await expectText(status, /not approved/);
  await expectText(status.locator("dt", { hasText: "Reason" }).locator("xpath=following-sibling::dd[1]"), /^The front photo is blurred: take it again in daylight\.$/);
  await driver.page.getByRole("heading", { name: "Not approved" }).waitFor();
  // A new licence can be uploaded at once.
  await driver.page.getByRole("form", { name: "Upload your driving licence" }).waitFor();
  await screenshot(driver.page, "driver-rejected");
  assertNoProblems(driver.problems);
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
