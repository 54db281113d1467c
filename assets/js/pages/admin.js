// Campus administration (admins only): campuses and the email domains that may sign up, and
// privacy-policy versions.

import { api } from "../api.js";
import { formatDate, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, field, submit, textArea } from "../forms.js";
import { isAdmin } from "../session.js";
import { adminNav } from "../admin-common.js";

export const title = "Administration";

/** "north.edu, mail.north.edu" (or one a line) as a list of lower-case domains. */
export function parseDomains(text) {
  return String(text ?? "")
    .split(/[\s,;]+/)
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
}

export async function render(root, { who }) {
  if (!who) {
    window.location.replace("/sign-in?next=/admin");
    return;
  }
  if (!isAdmin(who)) {
    replace(
      root,
      notice("info", h("p", {}, "This page is for campus IT administrators, and your account is not one. "), h("p", {}, h("a", { href: "/account" }, "Go to your account"))),
    );
    return;
  }
  const campuses = campusesSection();
  const policies = policiesSection();
  replace(root, adminNav("/admin"), campuses.element, newCampusSection(campuses.reload), policies.element);
  await Promise.all([campuses.reload(), policies.reload()]);
}

/** Privacy-policy versions: the list (newest is current) and a form to publish a new one. */
function policiesSection() {
  const list = h("ul", { class: "policy-list" });
  const result = h("div", { role: "status", class: "form-result" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Publish a privacy policy" },
    field({
      name: "version",
      label: "Version",
      hint: "A new label, for example 2026-09. It cannot be used again.",
      required: "Give the new version a label",
      maxlength: 64,
    }),
    textArea({ name: "text", label: "Policy text", hint: "Plain text; a blank line starts a new paragraph.", required: "Enter the policy text" }),
    submit("Publish"),
  );
  const reload = async () => {
    let policies;
    try {
      policies = await api("GET", "/api/v1/admin/policies");
    } catch (error) {
      replace(result, notice("error", h("p", {}, error.message)));
      return;
    }
    replace(
      list,
      policies.length
        ? policies.map((p) =>
            h(
              "li",
              {},
              h("strong", {}, `Version ${p.version}`),
              p.current ? h("span", { class: "tag" }, "Current") : null,
              ` published ${formatDate(p.published_at)}, accepted by ${p.acceptances}`,
            ),
          )
        : h("li", {}, "No policy is published: people sign up without accepting one."),
    );
  };
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      const published = await api("POST", "/api/v1/admin/policies", { version: v.version, text: v.text });
      form.reset();
      await reload();
      replace(
        result,
        notice("success", h("p", {}, `Version ${published.version} is published. New accounts accept it; others are asked at their next sign-in.`)),
      );
    },
  });
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": "policies-heading" },
    h("h2", { id: "policies-heading" }, "Privacy policy"),
    h("p", {}, "The newest version is the current one. Publishing a version asks everyone to accept it."),
    list,
    h("h3", {}, "Publish a new version"),
    form,
    result,
  );
  return { element, reload };
}

function campusDomainsHint() {
  return "One or more, separated by commas, for example north.edu, mail.north.edu. A subdomain must be listed itself.";
}

function campusesSection() {
  const list = h("ul", { class: "campus-list" });
  const result = h("div", { role: "status", class: "form-result" });
  const heading = h("h2", { id: "campuses-heading", tabindex: "-1" }, "Campuses");
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": "campuses-heading" },
    heading,
    h("p", {}, "People can create an account only with an email address at one of these domains."),
    list,
    result,
  );
  const say = (kind, text) => replace(result, notice(kind, h("p", {}, text)));

  const reload = async () => {
    let campuses;
    try {
      campuses = await api("GET", "/api/v1/admin/campuses");
    } catch (error) {
      say("error", error.message);
      return;
    }
    if (!campuses.length) {
      replace(list, h("li", { class: "empty" }, "There are no campuses yet, so nobody can sign up. Add one below."));
      return;
    }
    replace(list, campuses.map((c) => campusItem(c)));
  };

  const campusItem = (campus) => {
    const headingId = `campus-${campus.id}-name`;
    const actions = h("div", { class: "button-row" });
    const area = h("div", { class: "campus-edit" });
    const item = h(
      "li",
      { class: "campus", "data-campus-id": String(campus.id) },
      h("h3", { id: headingId, tabindex: "-1" }, campus.name),
      h("ul", { class: "tags", "aria-label": `Email domains of ${campus.name}` }, campus.domains.map((d) => h("li", { class: "tag" }, d))),
      h("p", { class: "meta" }, `Added ${formatDate(campus.created_at)}`),
      actions,
      area,
    );
    const editButton = h("button", { type: "button", class: "button secondary small", "aria-expanded": "false", "aria-label": `Edit ${campus.name}` }, "Edit");
    const removeButton = h("button", { type: "button", class: "button danger small", "aria-label": `Remove ${campus.name}` }, "Remove");
    actions.append(editButton, removeButton);

    const closeArea = (focus) => {
      replace(area);
      editButton.setAttribute("aria-expanded", "false");
      focus?.focus();
    };

    editButton.addEventListener("click", () => {
      if (editButton.getAttribute("aria-expanded") === "true") {
        closeArea(editButton);
        return;
      }
      const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
      const form = h(
        "form",
        { class: "stack", "aria-label": `Edit ${campus.name}` },
        field({ name: "name", label: "Campus name", value: campus.name, required: "Enter the campus name", maxlength: 100 }),
        field({ name: "domains", label: "Email domains", value: campus.domains.join(", "), hint: campusDomainsHint(), required: "Enter at least one email domain", autocomplete: "off" }),
        h("div", { class: "button-row" }, submit("Save changes"), cancel),
      );
      cancel.addEventListener("click", () => closeArea(editButton));
      bindForm(form, {
        onSubmit: async (v) => {
          const updated = await api("PATCH", `/api/v1/admin/campuses/${campus.id}`, {
            name: v.name,
            domains: parseDomains(v.domains),
          });
          await reload();
          say("success", `${updated.name} is saved.`);
          list.querySelector(`[data-campus-id="${updated.id}"] h3`)?.focus();
        },
      });
      replace(area, form);
      editButton.setAttribute("aria-expanded", "true");
      form.elements.name.focus();
    });

    removeButton.addEventListener("click", () => {
      editButton.setAttribute("aria-expanded", "false");
      const confirm = h("button", { type: "button", class: "button danger" }, `Yes, remove ${campus.name}`);
      const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
      const question = h(
        "div",
        { class: "confirm", role: "group", "aria-labelledby": `${headingId}-confirm` },
        h("p", { id: `${headingId}-confirm` }, `Remove ${campus.name}? People with its email domains will no longer be able to sign up. Existing accounts stay.`),
        h("div", { class: "button-row" }, confirm, cancel),
      );
      cancel.addEventListener("click", () => closeArea(removeButton));
      busyClick(
        confirm,
        async () => {
          await api("DELETE", `/api/v1/admin/campuses/${campus.id}`);
          await reload();
          say("success", `${campus.name} is removed.`);
          heading.focus();
        },
        (error) => say("error", error.message),
      );
      replace(area, question);
      confirm.focus();
    });
    return item;
  };

  return { element, reload };
}

function newCampusSection(reload) {
  const result = h("div", { role: "status", class: "form-result" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Add a campus" },
    field({ name: "name", label: "Campus name", required: "Enter the campus name", maxlength: 100, autocomplete: "off" }),
    field({ name: "domains", label: "Email domains", hint: campusDomainsHint(), required: "Enter at least one email domain", autocomplete: "off" }),
    submit("Add campus"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      const created = await api("POST", "/api/v1/admin/campuses", { name: v.name, domains: parseDomains(v.domains) });
      form.reset();
      await reload();
      replace(result, notice("success", h("p", {}, `${created.name} is added. People with ${created.domains.join(" or ")} addresses can now sign up.`)));
    },
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "new-campus-heading" },
    h("h2", { id: "new-campus-heading" }, "Add a campus"),
    form,
    result,
  );
}
