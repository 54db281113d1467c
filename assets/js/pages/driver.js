// The driver page: upload both sides of a driving licence (each photo checked, previewed and
// made smaller in the browser first, licence-photo.js; then upload progress), what was read
// from it, the review status, the expiry, and the driving and availability switches.

import { ApiError, api, csrfToken, sentence } from "../api.js";
import { announce, formatDate, h, notice, replace } from "../dom.js";
import { busyClick } from "../forms.js";
import { preparePhoto } from "../licence-photo.js";

export const title = "Driving";

const STATUS_WORDS = {
  none: "You have not uploaded a driving licence yet.",
  pending_review: "Your licence is waiting for a reviewer. You can drive once it is approved.",
  approved: "You are an approved driver.",
  rejected: "Your licence was not approved. Upload a new one to try again.",
  suspended: "Driving is suspended because your licence expired. Upload your new licence.",
};

export async function render(root, { who }) {
  if (!who) {
    window.location.replace("/sign-in?next=/driver");
    return;
  }
  replace(root, h("p", { role: "status" }, "Loading your driver profile…"));
  let state;
  try {
    state = await api("GET", "/api/v1/driver");
  } catch (error) {
    replace(root, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
    return;
  }
  draw(root, state);
}

function draw(root, state) {
  replace(root, statusSection(state), drivingSection(root, state), licenceSection(state), uploadSection(root, state));
}

function section(id, heading, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id, tabindex: "-1" }, heading), ...children);
}

function statusSection(state) {
  const rows = [["Status", STATUS_WORDS[state.status] ?? state.status]];
  if (state.reason) rows.push(["Reason", state.reason]);
  if (state.expiry_date) {
    const days = state.days_left;
    const left = days > 0 ? ` (${days} day${days === 1 ? "" : "s"} left)` : " (expired)";
    rows.push(["Licence valid until", `${formatDate(state.expiry_date)}${left}`]);
  }
  if (state.upload_from) rows.push(["New licence accepted from", formatDate(state.upload_from)]);
  return section(
    "driver-status-heading",
    "Your status",
    state.alerts.map((text) => notice("warning", h("p", {}, text))),
    h("dl", { class: "facts driver-status", "data-status": state.status }, rows.map(([t, d]) => [h("dt", {}, t), h("dd", {}, d)])),
  );
}

function drivingSection(root, state) {
  if (!state.can_drive) return null;
  const result = h("div", { role: "status", class: "form-result" });
  const say = (kind, text) => replace(result, notice(kind, h("p", {}, text)));
  const parts = [];
  if (!state.enabled) {
    const enable = h("button", { type: "button", class: "button" }, "Enable driving");
    busyClick(
      enable,
      async () => {
        const next = await api("POST", "/api/v1/driver/enable", {});
        draw(root, next);
        announce("Driving is enabled.");
        document.getElementById("driving-heading")?.focus();
      },
      (error) => say("error", error.message),
    );
    parts.push(h("p", {}, "Switch driving on to offer rides."), enable);
  } else {
    const id = "availability-switch";
    const input = h("input", { id, type: "checkbox", role: "switch", checked: state.available, "aria-describedby": "availability-hint" });
    input.addEventListener("change", async () => {
      const wanted = input.checked;
      input.disabled = true;
      try {
        const next = await api("POST", "/api/v1/driver/availability", { available: wanted });
        input.checked = next.available;
        say("success", next.available ? "You are available for rides." : "You are not available for rides.");
      } catch (error) {
        input.checked = !wanted;
        say("error", error.message);
      } finally {
        input.disabled = false;
        input.focus();
      }
    });
    parts.push(
      h("div", { class: "field checkbox switch" }, input, h("label", { for: id }, "Available for rides")),
      h("p", { class: "hint", id: "availability-hint" }, "Riders can only ask you for a ride while this is on."),
    );
  }
  return section("driving-heading", "Driving", ...parts, result);
}

function licenceFacts(licence) {
  const row = (term, value) => (value === null || value === undefined || value === "" ? null : [h("dt", {}, term), h("dd", {}, value)]);
  const source = { barcode: "the barcode", ocr: "the printed text (please check)", none: "nothing: a reviewer reads it" }[licence.source];
  return h(
    "dl",
    { class: "facts licence-facts" },
    row("Family name", licence.family_name),
    row("Given names", licence.given_names),
    row("Licence number", licence.licence_number),
    row("Expires", licence.expiry_date ? formatDate(licence.expiry_date) : null),
    row("Born", licence.birth_date ? formatDate(licence.birth_date) : null),
    row("Issued by", licence.issuer),
    row("Read from", source),
    row("Name match", licence.name_score == null ? null : `${Math.round(licence.name_score * 100)}%`),
  );
}

function licenceSection(state) {
  const parts = [];
  if (state.pending_licence) {
    const l = state.pending_licence;
    parts.push(h("h3", {}, "Waiting for review"), licenceFacts(l));
    if (l.review_notes.length) {
      parts.push(h("p", {}, "A reviewer will look at:"), h("ul", { class: "review-notes" }, l.review_notes.map((n) => h("li", {}, n))));
    }
  }
  if (state.licence) parts.push(h("h3", {}, "Approved licence"), licenceFacts(state.licence));
  if (state.rejected_licence) {
    const reason = state.rejected_licence.decision_reason;
    parts.push(
      h("h3", {}, "Not approved"),
      reason ? h("p", { class: "decision-reason" }, h("strong", {}, "The reviewer's reason: "), reason) : null,
      licenceFacts(state.rejected_licence),
    );
  }
  return parts.length ? section("licence-heading", "Your licence", ...parts) : null;
}

/** "850 KB", "4.2 MB" */
function formatSize(bytes) {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A data: URL of `blob` (the CSP allows data: images, not blob: ones). */
function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(String(reader.result)));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(blob);
  });
}

/**
 * A file input for one side of the card: on a phone it opens the camera. The chosen photo is
 * checked at once (licence-photo.js): a refusal is shown next to the input, and the preview
 * shows what will be uploaded. `photos[name]` is the check's result, or a promise of it while
 * it runs.
 */
function imagePicker(name, label, photos) {
  const id = `licence-${name}`;
  const hintId = `${id}-hint`;
  const input = h("input", {
    id,
    name,
    type: "file",
    accept: "image/jpeg,image/png",
    capture: "environment",
    "aria-describedby": `${hintId} ${id}-status`,
    required: true,
  });
  const wrapper = h("div", { class: "field", "data-field": name });
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const status = h("p", { class: "hint photo-status", id: `${id}-status`, role: "status" });
  const preview = h("img", { class: "licence-preview", alt: "", hidden: true });
  const refuse = (reason) => {
    wrapper.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", `${error.id} ${hintId} ${status.id}`);
    error.textContent = reason;
  };
  const clear = () => {
    wrapper.classList.remove("has-error");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", `${hintId} ${status.id}`);
    replace(error);
    replace(status);
  };
  let latest = 0;
  input.addEventListener("change", () => {
    clear();
    const file = input.files?.[0];
    preview.hidden = true;
    if (!file) {
      photos[name] = null;
      return;
    }
    const run = ++latest;
    status.textContent = "Checking the photo…";
    photos[name] = preparePhoto(file).then(async (result) => {
      if (run !== latest) return result;
      preview.src = await dataUrl(result.ok ? result.blob : file);
      preview.alt = `Preview of the ${name} you chose`;
      preview.hidden = false;
      if (!result.ok) {
        replace(status);
        refuse(result.reason);
      } else {
        const size = `${result.width} × ${result.height} pixels, ${formatSize(result.blob.size)}`;
        status.textContent = result.scaled ? `Ready: ${size} (made smaller from ${formatSize(file.size)} for the upload).` : `Ready: ${size}.`;
      }
      photos[name] = result;
      return result;
    });
  });
  return replace(
    wrapper,
    h("label", { for: id }, label),
    h("p", { class: "hint", id: hintId }, "A photo of the whole card, sharp and in good light (JPEG or PNG). On a phone this opens the camera."),
    error,
    input,
    status,
    preview,
  );
}

/** Sends both photos with XMLHttpRequest, which reports upload progress (fetch does not). */
function send(body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/driver/license");
    xhr.setRequestHeader("Accept", "application/json, application/problem+json");
    const token = csrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100));
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 201) resolve(body);
      else {
        const problem = body && typeof body === "object" ? body : { code: "unknown" };
        const error = new ApiError(problem, { status: xhr.status });
        error.message = xhr.status >= 500 ? "Something went wrong on our side. Please try again in a minute." : sentence(problem.detail || "The upload was refused.");
        if (xhr.status === 401) window.dispatchEvent(new CustomEvent("gatehouse:signed-out"));
        reject(error);
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError({ code: "network_error", detail: "Gatehouse cannot be reached. Check your internet connection and try again." })));
    xhr.send(body);
  });
}

function uploadSection(root, state) {
  if (state.upload_from) {
    return section(
      "upload-heading",
      "Upload a new licence",
      h("p", {}, `Your licence is valid until ${formatDate(state.expiry_date)}. You can upload the new one from ${formatDate(state.upload_from)}.`),
    );
  }
  const progress = h("progress", { id: "upload-progress", max: "100", value: "0", hidden: true, "aria-label": "Upload progress" });
  const errors = h("div", { class: "form-summary", role: "alert", tabindex: "-1" });
  const button = h("button", { type: "submit", class: "button" }, "Upload licence");
  const photos = { front: null, back: null };
  const form = h(
    "form",
    { class: "stack", "aria-label": "Upload your driving licence", novalidate: true },
    errors,
    imagePicker("front", "Front of the licence", photos),
    imagePicker("back", "Back of the licence (with the barcode)", photos),
    progress,
    button,
  );
  const showSummary = (text, focus) => {
    replace(errors, h("p", { class: "form-summary-title" }, text));
    errors.classList.add("is-shown");
    focus.focus();
  };
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    replace(errors);
    errors.classList.remove("is-shown");
    const missing = ["front", "back"].filter((name) => !photos[name]);
    if (missing.length) {
      showSummary(`Choose a photo of the ${missing.join(" and the ")} of your licence.`, form.elements[missing[0]]);
      return;
    }
    busy = true;
    button.setAttribute("aria-disabled", "true");
    try {
      // A photo still being checked is waited for; a refused one is not sent.
      const [front, back] = await Promise.all([photos.front, photos.back]);
      const refused = [["front", front], ["back", back]].filter(([, photo]) => !photo.ok).map(([name]) => name);
      if (refused.length) {
        showSummary(`Take another photo of the ${refused.join(" and the ")}: see the reason next to it.`, form.elements[refused[0]]);
        return;
      }
      const body = new FormData();
      body.set("front", front.blob, front.blob.name || "front.jpg");
      body.set("back", back.blob, back.blob.name || "back.jpg");
      progress.hidden = false;
      progress.value = 0;
      const next = await send(body, (percent) => {
        progress.value = percent;
      });
      draw(root, next);
      announce("Your licence is uploaded.");
      document.getElementById("driver-status-heading")?.focus();
    } catch (error) {
      showSummary(error.message, errors);
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
      progress.hidden = true;
    }
  });
  const intro = state.status === "approved"
    ? "Your licence expires soon: upload the new one to keep driving."
    : "Upload photos of both sides. The back's barcode is read automatically; a reviewer approves every new driver.";
  return section("upload-heading", state.status === "none" ? "Upload your licence" : "Upload a new licence", h("p", {}, intro), form);
}
