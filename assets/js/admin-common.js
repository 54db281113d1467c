// Shared parts of the admin pages: the section links, the admin-only guard, a labelled
// select, a results table and the pager.

import { h, notice, replace, uniqueId } from "./dom.js";
import { isAdmin } from "./session.js";

const SECTIONS = [
  ["/admin/start", "Getting started"],
  ["/admin", "Campuses"],
  ["/admin/users", "Accounts"],
  ["/admin/audit", "Audit log"],
  ["/admin/backups", "Backups and mail"],
  ["/admin/apps", "Apps"],
  ["/admin/webhooks", "Webhooks"],
];

/** Links between the admin pages, the current one marked. */
export function adminNav(current) {
  return h(
    "nav",
    { class: "admin-nav", "aria-label": "Administration" },
    h("ul", {}, SECTIONS.map(([href, text]) => h("li", {}, h("a", { href, "aria-current": href === current ? "page" : null }, text)))),
  );
}

/** True for an admin; otherwise sends to sign-in or explains, and returns false. */
export function guard(root, who, path) {
  if (!who) {
    window.location.replace(`/sign-in?next=${encodeURIComponent(path)}`);
    return false;
  }
  if (!isAdmin(who)) {
    replace(
      root,
      notice("info", h("p", {}, "This page is for campus IT administrators, and your account is not one. "), h("p", {}, h("a", { href: "/account" }, "Go to your account"))),
    );
    return false;
  }
  return true;
}

/** A labelled select; options are [value, text] pairs. */
export function select({ name, label, options, value = "" }) {
  const id = uniqueId(name);
  const control = h("select", { id, name }, options.map(([v, text]) => h("option", { value: v, selected: v === value ? true : null }, text)));
  return h("div", { class: "field", "data-field": name }, h("label", { for: id }, label), h("p", { class: "field-error", id: `${id}-error` }), control);
}

/** A table with a caption; rows are arrays of cells (text or nodes). */
export function table(caption, headings, rows) {
  // Focusable, so that keyboard users can scroll a table wider than a phone.
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      { class: "data" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
    ),
  );
}

/** "Page 2 of 5" with previous and next buttons; nothing when everything fits one page. */
export function pager({ page, per_page: perPage, total }, onPage) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (pages <= 1 && page <= 1) return null;
  const previous = h("button", { type: "button", class: "button secondary small", disabled: page <= 1 }, "Previous page");
  const next = h("button", { type: "button", class: "button secondary small", disabled: page >= pages }, "Next page");
  previous.addEventListener("click", () => onPage(page - 1));
  next.addEventListener("click", () => onPage(page + 1));
  return h("div", { class: "button-row pager" }, previous, h("p", { class: "meta" }, `Page ${page} of ${pages} (${total} in all)`), next);
}
