// Accounts (admins only): find by exact email, role or status; disable and enable, change
// the role, end every session, lift a lockout.

import { api } from "../api.js";
import { formatDateTime, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, field, submit } from "../forms.js";
import { adminNav, guard, pager, select } from "../admin-common.js";

export const title = "Accounts";

const STATUS_TEXT = { active: "Active", disabled: "Disabled", locked: "Locked out", unverified: "Not verified" };

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/users")) return;
  const results = h("div", { class: "results" });
  const result = h("div", { role: "status", class: "form-result" });
  const say = (kind, text) => replace(result, notice(kind, h("p", {}, text)));
  let query = {};
  let page = 1;

  const load = async () => {
    const params = new URLSearchParams({ ...query, page: String(page), per_page: "20" });
    let found;
    try {
      found = await api("GET", `/api/v1/admin/users?${params}`);
    } catch (error) {
      say("error", error.message);
      return;
    }
    if (!found.items.length) {
      replace(results, h("p", { class: "empty" }, page > 1 ? "No more accounts." : "No account matches."));
    } else {
      replace(results, h("ul", { class: "account-list" }, found.items.map(accountItem)), pager(found, (p) => { page = p; load(); }));
    }
  };

  const accountItem = (user) => {
    const name = user.email ?? user.phone ?? user.id;
    const headingId = `account-${user.id}`;
    const actions = h("div", { class: "account-actions" });
    const act = (label, cls, run) => {
      const button = h("button", { type: "button", class: `button small ${cls}`, "aria-label": `${label}: ${name}` }, label);
      busyClick(button, async () => { await run(); await load(); }, (error) => say("error", error.message));
      actions.append(button);
    };
    if (user.status === "disabled") {
      act("Enable", "secondary", async () => { await api("POST", `/api/v1/admin/users/${user.id}/enable`); say("success", `${name} is enabled.`); });
    } else {
      act("Disable", "danger", async () => { await api("POST", `/api/v1/admin/users/${user.id}/disable`); say("success", `${name} is disabled; their sessions ended.`); });
    }
    if (user.status === "locked") {
      act("Unlock", "secondary", async () => { await api("POST", `/api/v1/admin/users/${user.id}/unlock`); say("success", `${name} is unlocked.`); });
    }
    act("End sessions", "secondary", async () => {
      const ended = await api("DELETE", `/api/v1/admin/users/${user.id}/sessions`);
      say("success", `${ended.sessions} session(s) of ${name} ended.`);
    });
    const roles = select({ name: "role", label: `Role of ${name}`, value: user.role, options: [["user", "User"], ["reviewer", "Reviewer"], ["admin", "Admin"]] });
    const change = h("button", { type: "button", class: "button small secondary" }, "Change role");
    busyClick(change, async () => {
      const role = roles.querySelector("select").value;
      await api("PUT", `/api/v1/admin/users/${user.id}/role`, { role });
      say("success", `${name} is now ${role}.`);
      await load();
    }, (error) => say("error", error.message));
    actions.append(roles, change);
    return h(
      "li",
      { class: "panel", "data-user-id": user.id, "aria-labelledby": headingId },
      h("h3", { id: headingId }, name),
      h("p", { class: "meta" }, `${user.display_name} · ${user.role} · ${STATUS_TEXT[user.status] ?? user.status}${user.campus_name ? ` · ${user.campus_name}` : ""} · ${user.sessions} session(s) · since ${formatDateTime(user.created_at)}`),
      actions,
    );
  };

  const form = h(
    "form",
    { class: "stack filters", "aria-label": "Find accounts" },
    field({ name: "email", label: "Email (exact)", type: "email", autocomplete: "off", optional: true }),
    select({ name: "status", label: "Status", options: [["", "Any"], ["active", "Active"], ["disabled", "Disabled"], ["locked", "Locked out"], ["unverified", "Not verified"]] }),
    select({ name: "role", label: "Role", options: [["", "Any"], ["user", "User"], ["reviewer", "Reviewer"], ["admin", "Admin"]] }),
    submit("Find"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      query = Object.fromEntries(["email", "status", "role"].filter((k) => v[k]).map((k) => [k, v[k]]));
      page = 1;
      await load();
    },
  });
  replace(root, adminNav("/admin/users"), h("section", { class: "panel", "aria-label": "Find accounts" }, form), result, results);
  await load();
}
