// The audit log (admins only): by user, action and dates, newest first.

import { api } from "../api.js";
import { formatDateTime, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";
import { adminNav, guard, pager, table } from "../admin-common.js";

export const title = "Audit log";

/** A date input (YYYY-MM-DD, local) as the RFC 3339 time of that day's start. */
export function dayStart(value) {
  if (!value) return null;
  const d = new Date(`${value}T00:00:00`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/audit")) return;
  const results = h("div", { class: "results" });
  const result = h("div", { role: "status", class: "form-result" });
  let query = {};
  let page = 1;

  const load = async () => {
    const params = new URLSearchParams({ ...query, page: String(page), per_page: "50" });
    let found;
    try {
      found = await api("GET", `/api/v1/admin/audit?${params}`);
    } catch (error) {
      replace(result, notice("error", h("p", {}, error.message)));
      return;
    }
    replace(result);
    if (!found.items.length) {
      replace(results, h("p", { class: "empty" }, "No events match."));
      return;
    }
    const rows = found.items.map((e) => [formatDateTime(e.at), e.action, e.outcome, e.actor_id ?? "system", e.subject_id ?? "", e.ip ?? ""]);
    replace(results, table("Events, newest first", ["Time", "Action", "Outcome", "By", "About", "Address"], rows), pager(found, (p) => { page = p; load(); }));
  };

  const form = h(
    "form",
    { class: "stack filters", "aria-label": "Filter the audit log" },
    field({ name: "user_id", label: "Account id", autocomplete: "off", optional: true }),
    field({ name: "action", label: "Action", autocomplete: "off", optional: true, hint: "For example login or account.disabled" }),
    field({ name: "from", label: "From (day)", type: "date", optional: true }),
    field({ name: "to", label: "Until (day, excluded)", type: "date", optional: true }),
    submit("Show"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      query = {};
      if (v.user_id) query.user_id = v.user_id;
      if (v.action) query.action = v.action;
      if (dayStart(v.from)) query.from = dayStart(v.from);
      if (dayStart(v.to)) query.to = dayStart(v.to);
      page = 1;
      await load();
    },
  });
  replace(root, adminNav("/admin/audit"), h("section", { class: "panel", "aria-label": "Filter the audit log" }, form), result, results);
  await load();
}
