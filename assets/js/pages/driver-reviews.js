// Driver reviews (reviewers and admins): the licences waiting for a decision, oldest first, each
// with how long its driver has waited; the front-against-barcode check and the other notes
// first; the images beside what was read; for a renewal, the current licence beside the new one
// with what changed marked. Approve, or reject with a reason (picked from the common ones, or
// written) that the driver is emailed. Keyboard: j/k move through the queue, a approves, r
// goes to the reason.

import { api } from "../api.js";
import { formatDate, formatDateTime, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";
import { isReviewer } from "../session.js";

export const title = "Driver reviews";

/** A driver waiting longer than this is late (the docs suggest alerting on it too). */
const LATE_SECONDS = 86_400;

export async function render(root, { who }) {
  if (!who) {
    window.location.replace("/sign-in?next=/driver-reviews");
    return;
  }
  if (!isReviewer(who)) {
    replace(root, notice("info", h("p", {}, "This page is for driver reviewers and administrators, and your account is not one.")));
    return;
  }
  const summary = h("p", { class: "review-summary", role: "status" });
  const keys = h(
    "p",
    { class: "hint review-keys" },
    "Keyboard: ",
    h("kbd", {}, "j"),
    " next licence, ",
    h("kbd", {}, "k"),
    " previous, ",
    h("kbd", {}, "a"),
    " to its Approve button (Enter approves), ",
    h("kbd", {}, "r"),
    " to its reasons. Click a photo to see it at full size.",
  );
  const list = h("div", { class: "review-list" });
  const result = h("div", { role: "status", class: "form-result" });
  replace(root, result, summary, keys, list);
  const say = (kind, text) => replace(result, notice(kind, h("p", {}, text)));
  let reasons = [];
  try {
    reasons = (await api("GET", "/api/v1/admin/driver-reviews/reasons")).reasons;
  } catch {
    // Without the list the reason is written by hand; the queue still works.
  }
  const reload = async () => {
    let reviews;
    try {
      reviews = await api("GET", "/api/v1/admin/driver-reviews");
    } catch (error) {
      say("error", error.message);
      return;
    }
    if (!reviews.length) {
      replace(summary, "No licence is waiting for a review.");
      replace(list);
      return;
    }
    const late = reviews.filter((r) => r.waiting_seconds > LATE_SECONDS).length;
    replace(
      summary,
      `${reviews.length} ${reviews.length === 1 ? "licence is" : "licences are"} waiting, oldest first`,
      late ? `; ${late} for more than a day.` : ".",
    );
    replace(list, reviews.map((r) => reviewItem(r, reasons, reload, say)));
  };
  await reload();
  bindKeys(list);
}

/** j/k move the focus through the queue; a and r act on the licence that has it. */
function bindKeys(list) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const items = [...list.querySelectorAll("article.review")];
    if (!items.length) return;
    const current = event.target.closest?.("article.review");
    const index = items.indexOf(current);
    const focusItem = (i) => {
      const item = items[Math.max(0, Math.min(items.length - 1, i))];
      item.focus();
      item.scrollIntoView({ block: "start" });
    };
    if (event.key === "j") focusItem(index < 0 ? 0 : index + 1);
    else if (event.key === "k") focusItem(index < 0 ? 0 : index - 1);
    else if (event.key === "a" && current) current.querySelector(".approve-form button[type=submit]")?.focus();
    else if (event.key === "r" && current) current.querySelector(".reason-pick, .reject-form input")?.focus();
    else return;
    event.preventDefault();
  });
}

/** "waiting 3 hours", "waiting 2 days" */
function waitingText(seconds) {
  const unit = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (seconds < 60) return "uploaded just now";
  if (seconds < 3600) return `waiting ${unit(Math.floor(seconds / 60), "minute")}`;
  if (seconds < 86_400) return `waiting ${unit(Math.floor(seconds / 3600), "hour")}`;
  return `waiting ${unit(Math.floor(seconds / 86_400), "day")}`;
}

const FIELD_LABELS = {
  licence_number: "licence number",
  expiry_date: "expiry date",
  name: "name",
};

/** What the comparison of the front's printed fields with the barcode found, as a notice. */
function frontCheck(check) {
  const mismatched = check.mismatched.map((f) => FIELD_LABELS[f] ?? f).join(", ");
  const [kind, text] = {
    agrees: ["success", "Front and barcode agree: licence number, expiry date and name."],
    disagrees: ["error", `The front does not agree with the barcode (${mismatched}). The back may have been reprinted: compare both photos.`],
    unreadable: ["warning", "The front could not be read well enough to compare it with the barcode: compare them by eye."],
    not_available: ["info", "The front was not compared with the barcode (no OCR on this server): compare them by eye."],
    no_barcode: ["warning", "No barcode was read: the fields come from the front alone."],
  }[check.result] ?? ["info", `Front check: ${check.result}.`];
  const box = notice(kind, h("p", {}, h("strong", {}, "Front against barcode: "), text));
  box.classList.add("front-check");
  box.dataset.result = check.result;
  return box;
}

const ROWS = [
  ["family_name", "Family name"],
  ["given_names", "Given names"],
  ["licence_number", "Licence number"],
  ["expiry_date", "Expires", formatDate],
  ["birth_date", "Born", formatDate],
  ["issuer", "Issued by"],
];

/** The fields read, in a table; for a renewal beside the current licence's, changes marked. */
function fieldsTable(review) {
  const l = review.licence;
  const p = review.previous?.licence;
  const show = (value, format) => (value == null ? "not read" : format ? format(value) : value);
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Field"),
    p ? h("th", { scope: "col" }, "Current licence") : null,
    h("th", { scope: "col" }, p ? "This renewal" : "Read"),
  );
  const rows = ROWS.map(([key, label, format]) => {
    const changed = Boolean(p) && review.changes.includes(key);
    return h(
      "tr",
      { class: changed ? "changed" : null, "data-field": key },
      h("th", { scope: "row" }, label),
      p ? h("td", {}, show(p[key], format)) : null,
      h("td", {}, show(l[key], format), changed ? h("strong", { class: "change-tag" }, " changed") : null),
    );
  });
  const extra = [
    ["Legal name (profile)", review.legal_name ?? "not given"],
    ["Name match", l.name_score == null ? "not computed" : `${Math.round(l.name_score * 100)}%`],
    ["Read from", l.source],
    ["Uploaded", formatDateTime(l.uploaded_at)],
  ].map(([label, value]) => h("tr", {}, h("th", { scope: "row" }, label), p ? h("td", {}) : null, h("td", {}, value)));
  return h(
    "table",
    { class: "review-fields" },
    h("caption", {}, p ? "What was read, against the licence it would replace" : "What was read"),
    h("thead", {}, head),
    h("tbody", {}, rows, extra),
  );
}

function figure(src, alt, caption) {
  // The link opens the photo at full size, to compare faces and print closely.
  return h("figure", {}, h("a", { href: src, target: "_blank", rel: "noopener" }, h("img", { src, alt, loading: "lazy" })), h("figcaption", {}, caption));
}

function imagesOf(review) {
  const name = review.display_name;
  const current = review.previous
    ? [
        figure(review.previous.front_image_url, `Front of ${name}'s current licence`, "Current licence: front"),
        figure(review.previous.back_image_url, `Back of ${name}'s current licence`, "Current licence: back"),
      ]
    : [];
  const label = review.previous ? "New licence" : "Licence";
  return h(
    "div",
    { class: review.previous ? "review-images compare" : "review-images" },
    figure(review.front_image_url, `Front of the licence uploaded by ${name}`, `${label}: front`),
    current[0],
    figure(review.back_image_url, `Back of the licence uploaded by ${name}`, `${label}: back`),
    current[1],
  );
}

function reviewItem(review, reasons, reload, say) {
  const l = review.licence;
  const headingId = `review-${review.id}`;
  const late = review.waiting_seconds > LATE_SECONDS;
  const otherNotes = l.review_notes;

  const approveForm = h(
    "form",
    { class: "stack approve-form", "aria-label": `Approve ${review.display_name}` },
    l.expiry_date
      ? null
      : field({ name: "expiry_date", label: "Expiry date on the card", type: "date", required: "Enter the expiry date printed on the card" }),
    submit(`Approve ${review.display_name}`),
  );
  bindForm(approveForm, {
    onSubmit: async (v) => {
      await api("POST", `/api/v1/admin/driver-reviews/${review.id}/approve`, v.expiry_date ? { expiry_date: v.expiry_date } : {});
      say("success", `${review.display_name} is approved.`);
      await reload();
    },
  });

  const reasonField = field({ name: "reason", label: "Reason for rejecting (the driver is emailed it)", required: "Give the driver a reason", maxlength: 500 });
  const reasonInput = reasonField.querySelector("input");
  const pick = reasons.length ? reasonPicker(review.id, reasons, reasonInput) : null;
  const rejectForm = h(
    "form",
    { class: "stack reject-form", "aria-label": `Reject ${review.display_name}` },
    pick,
    reasonField,
    submit(`Reject ${review.display_name}`, "danger"),
  );
  bindForm(rejectForm, {
    onSubmit: async (v) => {
      await api("POST", `/api/v1/admin/driver-reviews/${review.id}/reject`, { reason: v.reason });
      say("success", `${review.display_name}'s licence is rejected.`);
      await reload();
    },
  });

  return h(
    "article",
    { class: "panel review", "aria-labelledby": headingId, "data-review-id": String(review.id), tabindex: "-1" },
    h("h2", { id: headingId }, review.display_name, review.renewal ? " (renewal)" : ""),
    h(
      "p",
      { class: late ? "meta waiting late" : "meta waiting" },
      waitingText(review.waiting_seconds),
      late ? h("strong", {}, " (more than a day)") : null,
      review.email ? ` · ${review.email}` : "",
    ),
    frontCheck(l.front_check),
    otherNotes.length
      ? h("div", { class: "review-notes" }, h("h3", {}, "Checks that did not pass"), h("ul", {}, otherNotes.map((n) => h("li", {}, n))))
      : h("p", { class: "review-notes" }, "Every automatic check passed."),
    review.renewal
      ? h(
          "p",
          { class: "hint" },
          "A renewal: the driver keeps driving on the current licence until it expires. Compare the photos on the cards as well as the fields.",
        )
      : null,
    h("div", { class: "review-body" }, imagesOf(review), fieldsTable(review)),
    h("div", { class: "review-actions" }, approveForm, rejectForm),
  );
}

/** A list of the common reasons; picking one writes it into the reason field, to send or edit. */
function reasonPicker(id, reasons, input) {
  const selectId = `reason-pick-${id}`;
  const select = h(
    "select",
    { id: selectId, class: "reason-pick" },
    h("option", { value: "" }, "Choose a common reason, or write one below"),
    reasons.map((r) => h("option", { value: r }, r)),
  );
  select.addEventListener("change", () => {
    if (!select.value) return;
    input.value = select.value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  return h("div", { class: "field" }, h("label", { for: selectId }, "Common reasons"), select);
}
