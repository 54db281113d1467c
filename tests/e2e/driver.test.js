// Driver verification in the browser: a student uploads a generated licence (previews and
// progress), sees what was read; an admin sees the images beside the fields and approves it;
// the student sees how long the licence is valid, enables driving and switches availability
// on and off. Another licence is rejected with a reason, which its driver then reads. Photos
// too small or too blurred are refused in the page before any upload; a large one is made
// smaller and its barcode is still read. The images come from tools/src/bin/licence_image.rs
// (scripts/e2e.sh builds it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gatehouseSuite } from "./lib/suite.js";
import { BIN } from "./lib/server.js";
import { readMails } from "./lib/mail.js";
import { axeViolations, screenshot, visit, PHONE } from "./lib/browser.js";
import { assertNoProblems, countRequests, createAdmin, createConfirmedUser, expectText, signIn } from "./lib/helpers.js";

const DRIVER = { email: "maria@north.edu", password: "Silver-Kettle-84", display_name: "Maria", legal_name: "María García" };
const REJECTED = { email: "rita@north.edu", password: "Amber-Orchard-93", display_name: "Rita", legal_name: "Rita Lopez" };
const ADMIN = { email: "it@north.edu", password: "Granite-Signal-58", display_name: "Campus IT" };
const GENERATOR = process.env.LICENCE_IMAGE_BIN || join(dirname(BIN), "licence_image");

const images = mkdtempSync(join(tmpdir(), "gatehouse-licence-"));
const ritaImages = join(images, "rita");
/** Photos the page must refuse or shrink: a card 500 px wide (a 351 px high photo, which the
 * server's 300 px floor would take), one blurred (sigma 6), and a 3600 x 2410 noisy JPEG. */
const smallImages = join(images, "small");
const blurredImages = join(images, "blurred");
const largeImages = join(images, "large");
const EXPIRY = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
/** A driver whose licence expires in five days renews it with one valid four years on. */
const RENEWER = { email: "ren@north.edu", password: "Velvet-Harbour-27", display_name: "Ren", legal_name: "Ren Newman" };
const renewerOld = join(images, "ren-old");
const renewerNew = join(images, "ren-new");
const SOON = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
const LATER = new Date(Date.now() + 4 * 365 * 86_400_000).toISOString().slice(0, 10);
/** With tesseract the server reads the generated front, which agrees with its barcode. */
const FRONT_CHECK = (() => {
  try {
    execFileSync("tesseract", ["--version"], { stdio: "pipe" });
    return "agrees";
  } catch {
    return "not_available";
  }
})();
const suite = gatehouseSuite(async (server) => {
  await createConfirmedUser(server, DRIVER);
  await createConfirmedUser(server, REJECTED);
  await createAdmin(server, ADMIN);
  assert.ok(existsSync(GENERATOR), `no licence generator at ${GENERATOR}: cargo build -p gatehouse-tools --bin licence_image`);
  execFileSync(GENERATOR, [images, "Maria", "Garcia", EXPIRY], { stdio: "pipe" });
  mkdirSync(ritaImages);
  execFileSync(GENERATOR, [ritaImages, "Rita", "Lopez", EXPIRY], { stdio: "pipe" });
  await createConfirmedUser(server, RENEWER);
  execFileSync(GENERATOR, [renewerOld, "Ren", "Newman", SOON], { stdio: "pipe" });
  execFileSync(GENERATOR, [renewerNew, "Ren", "Newman", LATER], { stdio: "pipe" });
  execFileSync(GENERATOR, [smallImages, "Zed", "Zip", EXPIRY, "--width", "500"], { stdio: "pipe" });
  execFileSync(GENERATOR, [blurredImages, "Zed", "Zip", EXPIRY, "--blur", "6"], { stdio: "pipe" });
  execFileSync(GENERATOR, [largeImages, "Lara", "Large", EXPIRY, "--width", "3200", "--noise", "4", "--jpeg", "95"], { stdio: "pipe" });
});

/** Uploads both generated images on /driver and waits until the licence waits for review. */
async function uploadLicence(page, dir, waiting = /waiting for a reviewer/) {
  await visit(page, "/driver");
  await page.getByLabel("Front of the licence").setInputFiles(join(dir, "front.png"));
  await page.getByLabel("Back of the licence (with the barcode)").setInputFiles(join(dir, "back.png"));
  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator("main"), waiting, 30_000);
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
  // What was read from the licence, beside its images (at desktop width, side by side); the
  // front-against-barcode check and how long the driver has waited come first.
  const facts = review.locator("table.review-fields");
  await expectText(facts.locator('tr[data-field="licence_number"]'), /Licence number\s*D12345678/);
  await expectText(review.locator(".waiting"), /^(uploaded just now|waiting \d+ minutes?)/);
  assert.equal(await review.locator(".front-check").getAttribute("data-result"), FRONT_CHECK);
  await expectText(admin.page.locator(".review-summary"), /^1 licence is waiting, oldest first\.$/);
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
  // A common reason, picked from the list, fills the reason in; it can still be edited.
  await reject.getByLabel("Common reasons").selectOption("The photo is too blurred or dark to read: take it again in good light.");
  assert.equal(await reject.getByLabel(/Reason for rejecting/).inputValue(), "The photo is too blurred or dark to read: take it again in good light.");
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

test("a renewal waits for a reviewer, who sees it beside the current licence and rejects it by keyboard with a common reason", async () => {
  const driver = await suite.newPage();
  await signIn(driver.page, RENEWER.email, RENEWER.password);
  await uploadLicence(driver.page, renewerOld);
  const admin = await suite.newPage();
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  await visit(admin.page, "/driver-reviews");
  const first = admin.page.locator("article.review", { hasText: "Ren Newman" });
  await first.getByRole("button", { name: "Approve Ren" }).click();
  await expectText(admin.page.locator("main"), /Ren is approved/);

  // The renewal: the driver keeps driving on the current licence meanwhile.
  await uploadLicence(driver.page, renewerNew, /Your new licence is waiting for a reviewer/);
  await expectText(driver.page.locator(".driver-status"), /approved driver/);

  await visit(admin.page, "/driver-reviews");
  const review = admin.page.locator("article.review", { hasText: "Ren Newman" });
  await review.waitFor();
  await admin.page.getByRole("heading", { name: "Ren (renewal)" }).waitFor();
  assert.equal(await review.locator(".front-check").getAttribute("data-result"), FRONT_CHECK);
  // The current licence's photos beside the new ones, and the fields side by side.
  for (const name of ["Front of Ren's current licence", "Back of Ren's current licence", "Front of the licence uploaded by Ren", "Back of the licence uploaded by Ren"]) {
    await review.getByRole("img", { name }).waitFor();
  }
  const table = review.locator("table.review-fields");
  await expectText(table.locator("thead"), /Current licence\s*This renewal/);
  const expiry = table.locator('tr[data-field="expiry_date"]');
  assert.equal(await expiry.getAttribute("class"), "changed");
  await expectText(expiry, /changed$/);
  const longDate = (iso) => new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" }).format(new Date(iso));
  await expectText(expiry, new RegExp(`${longDate(SOON)}.*${longDate(LATER)}`));
  for (const same of ["family_name", "given_names", "licence_number"]) {
    assert.equal(await table.locator(`tr[data-field="${same}"]`).getAttribute("class"), null, `${same} did not change`);
  }
  assert.deepEqual(await axeViolations(admin.page), []);
  await screenshot(admin.page, "driver-review-renewal");

  // Keyboard: j reaches the licence, a its Approve button, r its reasons; no key decides alone.
  await admin.page.locator("body").click({ position: { x: 1, y: 1 } });
  await admin.page.keyboard.press("j");
  assert.equal(await admin.page.evaluate(() => document.activeElement.dataset.reviewId), await review.getAttribute("data-review-id"));
  await admin.page.keyboard.press("a");
  assert.equal(await admin.page.evaluate(() => document.activeElement.textContent), "Approve Ren");
  await admin.page.keyboard.press("r");
  assert.equal(await admin.page.evaluate(() => document.activeElement.className), "reason-pick");
  const reason = "The front and the back are of different licences.";
  await review.getByLabel("Common reasons").selectOption(reason);
  await review.getByRole("button", { name: "Reject Ren" }).click();
  await expectText(admin.page.locator("main"), /Ren's licence is rejected/);
  assertNoProblems(admin.problems);

  // The driver reads the reason on the page and in an email, and still drives on the old licence.
  await visit(driver.page, "/driver");
  await expectText(driver.page.locator(".driver-status"), /approved driver/);
  await expectText(driver.page.locator(".decision-reason"), new RegExp(`^The reviewer's reason: ${reason}$`));
  let mail;
  for (let tries = 0; !mail && tries < 100; tries += 1) {
    mail = readMails(suite.server.dataDir).find((m) => m.to.includes(RENEWER.email) && /not approved/.test(m.subject));
    if (!mail) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(mail, "the rejection is emailed");
  assert.ok(mail.text.includes(reason), "with its reason");
  assert.ok(mail.text.includes("You keep driving on your current licence until"), "and how long the old licence holds");
  assertNoProblems(driver.problems);
});

test("an approved driver is told when a new licence will be accepted", async () => {
  const { page, problems } = await suite.newPage({ viewport: PHONE });
  await signIn(page, DRIVER.email, DRIVER.password);
  await visit(page, "/driver");
  await expectText(page.locator("main"), /You can upload the new one from/);
  assertNoProblems(problems);
});

test("photos too small, too blurred or not images are refused in the page, before any upload", async () => {
  const other = { email: "zip@north.edu", password: "Quiet-Lantern-77", display_name: "Zed", legal_name: "Zed Zip" };
  await createConfirmedUser(suite.server, other);
  const fake = join(images, "not-an-image.png");
  writeFileSync(fake, "PK\u0003\u0004 this is a zip archive");
  const { page, problems } = await suite.newPage({ viewport: PHONE });
  await signIn(page, other.email, other.password);
  await visit(page, "/driver");
  const uploads = countRequests(page, "/api/v1/driver/license");
  const front = page.getByLabel("Front of the licence");
  const back = page.getByLabel("Back of the licence (with the barcode)");
  // Phones open the camera, for JPEG or PNG photos.
  for (const input of [front, back]) {
    assert.equal(await input.getAttribute("capture"), "environment");
    assert.equal(await input.getAttribute("accept"), "image/jpeg,image/png");
  }
  const frontField = page.locator('.field[data-field="front"]');
  const backField = page.locator('.field[data-field="back"]');

  await front.setInputFiles(join(smallImages, "front.png"));
  await expectText(frontField.locator(".field-error"), /^This photo is too small to read \(500 × 31\d pixels; at least 600 are needed on the shorter side\)/);
  // The reason is the input's description, and the input is marked invalid.
  const frontError = await frontField.locator(".field-error").getAttribute("id");
  assert.ok((await front.getAttribute("aria-describedby")).split(" ").includes(frontError));
  assert.equal(await front.getAttribute("aria-invalid"), "true");
  // The preview still shows the refused photo, so the driver sees what is wrong with it.
  await page.getByRole("img", { name: "Preview of the front you chose" }).waitFor();

  await back.setInputFiles(join(blurredImages, "back.png"));
  await expectText(backField.locator(".field-error"), /^This photo is too blurred to read/);
  assert.equal(await back.getAttribute("aria-invalid"), "true");
  await screenshot(page, "driver-photos-refused");
  assert.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator("form .form-summary.is-shown"), /Take another photo of the front and the back: see the reason next to it/);
  assert.ok(await front.evaluate((el) => el === document.activeElement), "the first refused input has the focus");

  // The blurred front too; a sharp one clears the error.
  await front.setInputFiles(join(blurredImages, "front.png"));
  await expectText(frontField.locator(".field-error"), /^This photo is too blurred to read/);
  await front.setInputFiles(join(images, "front.png"));
  await expectText(frontField.locator(".photo-status"), /^Ready: 1400 × 879 pixels/);
  assert.equal(await frontField.locator(".field-error").textContent(), "");
  assert.equal(await front.getAttribute("aria-invalid"), null);
  assert.equal(await frontField.getAttribute("class"), "field");

  // A file that is not an image at all.
  await back.setInputFiles(fake);
  await expectText(backField.locator(".field-error"), /^This file is not a photo that can be read/);
  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator("form .form-summary.is-shown"), /Take another photo of the back/);

  assert.equal(uploads.count, 0, "nothing was uploaded");
  await expectText(page.locator(".driver-status"), /not uploaded a driving licence/);
  assertNoProblems(problems);
});

test("a large photo is made smaller before the upload, and its barcode is still read", async () => {
  const lara = { email: "lara@north.edu", password: "Copper-Meadow-62", display_name: "Lara", legal_name: "Lara Large" };
  await createConfirmedUser(suite.server, lara);
  const largeBack = join(largeImages, "back.jpg");
  const fileSize = statSync(largeBack).size;
  const { page, problems } = await suite.newPage();
  await signIn(page, lara.email, lara.password);
  await visit(page, "/driver");
  // What the page hands to XMLHttpRequest, part by part (Playwright does not show a request
  // body made of files).
  await page.evaluate(() => {
    window.sentParts = [];
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (body) {
      if (body instanceof FormData) {
        window.sentParts.push([...body.entries()].map(([name, file]) => ({ name, type: file.type, size: file.size })));
      }
      return send.call(this, body);
    };
  });
  await page.getByLabel("Front of the licence").setInputFiles(join(images, "front.png"));
  await page.getByLabel("Back of the licence (with the barcode)").setInputFiles(largeBack);
  const status = page.locator('.field[data-field="back"] .photo-status');
  await expectText(status, /^Ready: 2400 × 160\d pixels, .* \(made smaller from .* MB for the upload\)\.$/);
  await page.getByRole("button", { name: "Upload licence" }).click();
  await expectText(page.locator(".driver-status"), /waiting for a reviewer/, 30_000);

  const sent = await page.evaluate(() => window.sentParts);
  assert.equal(sent.length, 1, "one upload");
  const back = sent[0].find((part) => part.name === "back");
  assert.equal(back.type, "image/jpeg", "the back went as a JPEG");
  // Both photos together weigh less than the large back alone did.
  const total = sent[0].reduce((sum, part) => sum + part.size, 0);
  assert.ok(total < fileSize, `sent ${total} bytes for a ${fileSize}-byte back`);
  const state = await page.evaluate(async () => (await fetch("/api/v1/driver", { headers: { Accept: "application/json" } })).json());
  assert.equal(state.pending_licence.source, "barcode");
  assert.equal(state.pending_licence.family_name, "LARGE");
  assertNoProblems(problems);
});
