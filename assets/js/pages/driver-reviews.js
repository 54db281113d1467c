// Driver reviews (reviewers and admins): each licence waiting for a decision, its images beside
// what was read from it and the driver's legal name; approve, or reject with a reason the
// driver will read.

import { api } from "../api.js";
import { formatDate, formatDateTime, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";
import { isReviewer } from "../session.js";

export const title = "Driver reviews";

export async function render(root, { who }) {
  if (!who) {
    window.location.replace("/sign-in?next=/driver-reviews");
    return;
  }
  if (!isReviewer(who)) {
    replace(root, notice("info", h("p", {}, "This page is for driver reviewers and administrators, and your account is not one.")));
    return;
  }
  const list = h("div", { class: "review-list" });
  const result = h("div", { role: "status", class: "form-result" });
  replace(root, result, list);
  const say = (kind, text) => replace(result, notice(kind, h("p", {}, text)));
  const reload = async () => {
    let reviews;
    try {
      reviews = await api("GET", "/api/v1/admin/driver-reviews");
    } catch (error) {
      say("error", error.message);
      return;
    }
    if (!reviews.length) {
      replace(list, h("p", { class: "empty" }, "No licence is waiting for a review."));
      return;
    }
    replace(list, reviews.map((r) => reviewItem(r, reload, say)));
  };
  await reload();
}

function reviewItem(review, reload, say) {
  const l = review.licence;
  const headingId = `review-${review.id}`;
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value ?? "not read")];
  const facts = h(
    "dl",
    { class: "facts" },
    row("Legal name (profile)", review.legal_name),
    row("Family name (licence)", l.family_name),
    row("Given names (licence)", l.given_names),
    row("Name match", l.name_score == null ? null : `${Math.round(l.name_score * 100)}%`),
    row("Licence number", l.licence_number),
    row("Expires", l.expiry_date ? formatDate(l.expiry_date) : null),
    row("Born", l.birth_date ? formatDate(l.birth_date) : null),
    row("Issued by", l.issuer),
    row("Read from", l.source),
    row("Uploaded", formatDateTime(l.uploaded_at)),
  );
  const images = h(
    "div",
    { class: "review-images" },
    h("figure", {}, h("img", { src: review.front_image_url, alt: `Front of the licence uploaded by ${review.display_name}`, loading: "lazy" }), h("figcaption", {}, "Front")),
    h("figure", {}, h("img", { src: review.back_image_url, alt: `Back of the licence uploaded by ${review.display_name}`, loading: "lazy" }), h("figcaption", {}, "Back")),
  );

  const approveForm = h(
    "form",
    { class: "stack", "aria-label": `Approve ${review.display_name}` },
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
  const rejectForm = h(
    "form",
    { class: "stack", "aria-label": `Reject ${review.display_name}` },
    field({ name: "reason", label: "Reason for rejecting (the driver reads it)", required: "Give the driver a reason", maxlength: 500 }),
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
    { class: "panel review", "aria-labelledby": headingId, "data-review-id": String(review.id) },
    h("h2", { id: headingId }, review.display_name, review.renewal ? " (renewal)" : ""),
    review.email ? h("p", { class: "meta" }, review.email) : null,
    h("div", { class: "review-body" }, images, h("div", {}, facts, l.review_notes.length ? [h("h3", {}, "Checks that did not pass"), h("ul", {}, l.review_notes.map((n) => h("li", {}, n)))] : h("p", {}, "Every automatic check passed."))),
    h("div", { class: "review-actions" }, approveForm, rejectForm),
  );
}
