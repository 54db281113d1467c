// Form building blocks: labelled fields with hints and errors, one submission at a time, and
// errors (ours or the API's) shown next to the fields and announced in the form's alert.

import { ApiError, sentence } from "./api.js";
import { h, replace, uniqueId } from "./dom.js";

/**
 * A labelled input. Options: name (the API field), label, type, autocomplete, hint, required
 * (the message shown when it is left empty), value, inputmode, maxlength.
 */
export function field({
  name,
  label,
  type = "text",
  autocomplete,
  hint,
  required,
  value = "",
  inputmode,
  maxlength,
  optional = false,
}) {
  const id = uniqueId(name.replace(/_/g, "-"));
  const hintId = hint ? `${id}-hint` : null;
  const input = h("input", {
    id,
    name,
    type,
    autocomplete,
    inputmode,
    maxlength,
    value,
    spellcheck: type === "email" || type === "password" ? "false" : null,
    autocapitalize: type === "email" ? "none" : null,
    "aria-describedby": hintId,
    "data-required": required || null,
    required: Boolean(required),
  });
  const labelEl = h("label", { for: id }, label, optional ? h("span", { class: "optional" }, " (optional)") : null);
  const wrapper = h(
    "div",
    { class: "field", "data-field": name },
    labelEl,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error` }),
    type === "password" ? passwordBox(input, label) : input,
  );
  return wrapper;
}

/** A password input with a "Show" toggle that keeps the input's label. */
function passwordBox(input, label) {
  const name = label.toLowerCase();
  const toggle = h("button", {
    type: "button",
    class: "button-link reveal",
    "aria-label": `Show ${name}`,
    text: "Show",
  });
  toggle.addEventListener("click", () => {
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    input.dataset.password = "true";
    toggle.textContent = show ? "Hide" : "Show";
    toggle.setAttribute("aria-label", `${show ? "Hide" : "Show"} ${name}`);
  });
  return h("div", { class: "password-box" }, input, toggle);
}

/** A labelled checkbox. */
export function checkbox({ name, label, checked = false, hint }) {
  const id = uniqueId(name.replace(/_/g, "-"));
  const hintId = hint ? `${id}-hint` : null;
  return h(
    "div",
    { class: "field checkbox", "data-field": name },
    h("input", { id, name, type: "checkbox", checked, "aria-describedby": hintId }),
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
  );
}

/** A labelled multi-line text field, shaped like `field` (errors attach to it). */
export function textArea({ name, label, hint, required, rows = 8 }) {
  const id = uniqueId(name.replace(/_/g, "-"));
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: id }, label),
    h("p", { class: "hint", id: `${id}-hint` }, hint),
    h("p", { class: "field-error", id: `${id}-error` }),
    h("textarea", { id, name, rows, "aria-describedby": `${id}-hint`, "data-required": required || null, required: Boolean(required) }),
  );
}

/** A submit button. */
export function submit(text, extraClass = "") {
  return h("button", { type: "submit", class: `button ${extraClass}`.trim() }, text);
}

/** The alert at the top of a form: empty until something goes wrong. */
function summaryOf(form) {
  let summary = form.querySelector(":scope > .form-summary");
  if (!summary) {
    summary = h("div", { class: "form-summary", role: "alert", tabindex: "-1" });
    form.prepend(summary);
  }
  return summary;
}

/**
 * Every named control's value: checkboxes as booleans, radios as the checked one's value, text
 * trimmed except passwords.
 */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.type === "radio") {
      // A group of radios is one answer: the checked one's value.
      if (el.checked) out[el.name] = el.value;
    }
    else if (el.type === "password" || el.dataset.password === "true") out[el.name] = el.value;
    else out[el.name] = el.value.trim();
  }
  return out;
}

/** Clears every error shown in the form. */
export function clearErrors(form) {
  replace(summaryOf(form));
  summaryOf(form).classList.remove("is-shown");
  for (const wrapper of form.querySelectorAll(".field.has-error")) {
    wrapper.classList.remove("has-error");
    const input = wrapper.querySelector("input, textarea, select");
    const error = wrapper.querySelector(".field-error");
    replace(error);
    if (input) {
      input.removeAttribute("aria-invalid");
      const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== error.id);
      if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  }
}

/**
 * Shows `message` in the form's alert and each of `fieldErrors` ([{field, message}]) next to its
 * input; field errors with no input of that name are listed in the alert.
 */
export function showErrors(form, message, fieldErrors = []) {
  clearErrors(form);
  const summary = summaryOf(form);
  const items = [];
  for (const { field: name, message: text } of fieldErrors) {
    const wrapper = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    const input = wrapper?.querySelector("input, textarea, select");
    if (wrapper && input) {
      wrapper.classList.add("has-error");
      const error = wrapper.querySelector(".field-error");
      if (!error.textContent) error.textContent = sentence(text);
      input.setAttribute("aria-invalid", "true");
      const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (!ids.includes(error.id)) input.setAttribute("aria-describedby", [error.id, ...ids].join(" "));
      const label = wrapper.querySelector("label")?.firstChild?.textContent ?? name;
      items.push(
        h("li", {}, h("a", { href: `#${input.id}`, onclick: (e) => focusField(e, input) }, `${label}: ${sentence(text)}`)),
      );
    } else {
      items.push(h("li", {}, sentence(text)));
    }
  }
  replace(summary, h("p", { class: "form-summary-title" }, message), items.length ? h("ul", {}, items) : null);
  summary.classList.add("is-shown");
}

function focusField(event, input) {
  event.preventDefault();
  input.focus();
}

/** Shows an error thrown while submitting: an ApiError's words, or a generic message. */
export function showProblem(form, error) {
  if (error instanceof ApiError) {
    showErrors(form, error.message, error.fieldErrors);
    return;
  }
  console.error(error);
  showErrors(form, "Something went wrong in this page. Reload it and try again.");
}

/**
 * Handles a form's submission: our own checks of required fields (and `validate(values)`,
 * which returns [{field, message}]) first, then `onSubmit(values)` with the submit button
 * marked busy. A second submission while one is running is ignored.
 */
export function bindForm(form, { onSubmit, validate } = {}) {
  form.noValidate = true;
  summaryOf(form);
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const vals = values(form);
    const problems = [];
    for (const el of form.querySelectorAll("[data-required]")) {
      if (!el.disabled && !String(el.value).trim()) problems.push({ field: el.name, message: el.dataset.required });
    }
    for (const el of form.querySelectorAll('input[type="email"]')) {
      const v = el.value.trim();
      if (v && !/^[^\s@]+@[^\s@]+$/.test(v)) {
        problems.push({ field: el.name, message: "Enter an email address like name@campus.edu" });
      }
    }
    if (validate) problems.push(...(validate(vals) ?? []));
    if (problems.length) {
      const seen = new Set();
      const unique = problems.filter((p) => !seen.has(p.field) && seen.add(p.field));
      showErrors(form, "Some of the answers need fixing: see the messages next to them.", unique);
      return;
    }
    clearErrors(form);
    busy = true;
    setBusy(form, true);
    try {
      await onSubmit(vals, form);
    } catch (error) {
      showProblem(form, error);
    } finally {
      busy = false;
      setBusy(form, false);
    }
  });
  return form;
}

/** Marks a form's submit buttons busy (they stay focusable, so keyboard focus is not lost). */
export function setBusy(form, isBusy) {
  form.setAttribute("aria-busy", String(isBusy));
  for (const button of form.querySelectorAll('button[type="submit"]')) {
    if (isBusy) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    button.classList.toggle("is-busy", isBusy);
  }
}

/**
 * Runs `action` for a plain button (not in a form) once at a time, marking it busy.
 * Errors go to `onError`.
 */
export function busyClick(button, action, onError) {
  let busy = false;
  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-busy");
    try {
      await action();
    } catch (error) {
      if (onError) onError(error);
      else console.error(error);
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
      button.classList.remove("is-busy");
    }
  });
  return button;
}
