// Backups and the outbox (admins only): list and take backups; see waiting and failed
// messages and send a failed one again.

import { api } from "../api.js";
import { formatDateTime, h, notice, replace } from "../dom.js";
import { busyClick } from "../forms.js";
import { adminNav, guard, table } from "../admin-common.js";

export const title = "Backups and mail";

function size(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/backups")) return;
  const backupList = h("div");
  const backupResult = h("div", { role: "status", class: "form-result" });
  const outbox = h("div");
  const outboxResult = h("div", { role: "status", class: "form-result" });

  const loadBackups = async () => {
    let list;
    try {
      list = await api("GET", "/api/v1/admin/backups");
    } catch (error) {
      replace(backupResult, notice("error", h("p", {}, error.message)));
      return;
    }
    replace(
      backupList,
      h("p", {}, `The newest ${list.keep} are kept in the backups directory. Restore one with gatehouse restore (the server stopped).`),
      list.items.length
        ? table("Backups, newest first", ["Taken", "File", "Size"], list.items.map((b) => [formatDateTime(b.created_at), b.name, size(b.size_bytes)]))
        : h("p", { class: "empty" }, "No backups yet."),
    );
  };

  const take = h("button", { type: "button", class: "button" }, "Take a backup now");
  busyClick(
    take,
    async () => {
      const made = await api("POST", "/api/v1/admin/backups");
      replace(backupResult, notice("success", h("p", {}, `Backup ${made.name} is written (${size(made.size_bytes)}).`)));
      await loadBackups();
    },
    (error) => replace(backupResult, notice("error", h("p", {}, error.message))),
  );

  const loadOutbox = async () => {
    let status;
    try {
      status = await api("GET", "/api/v1/admin/outbox");
    } catch (error) {
      replace(outboxResult, notice("error", h("p", {}, error.message)));
      return;
    }
    const rows = status.recent_failures.map((m) => {
      const retry = h("button", { type: "button", class: "button small secondary", "aria-label": `Send message ${m.id} again` }, "Send again");
      busyClick(
        retry,
        async () => {
          await api("POST", `/api/v1/admin/outbox/${m.id}/retry`);
          replace(outboxResult, notice("success", h("p", {}, `Message ${m.id} is queued again.`)));
          await loadOutbox();
        },
        (error) => replace(outboxResult, notice("error", h("p", {}, error.message))),
      );
      return [String(m.id), m.channel, formatDateTime(m.failed_at), m.last_error ?? "", retry];
    });
    replace(
      outbox,
      h("p", { class: "outbox-counts" }, `${status.pending} waiting to be sent, ${status.failed} failed.`),
      rows.length ? table("Failed messages", ["Message", "Channel", "Failed", "Last error", "Action"], rows) : null,
    );
  };

  replace(
    root,
    adminNav("/admin/backups"),
    h("section", { class: "panel", "aria-labelledby": "backups-heading" }, h("h2", { id: "backups-heading" }, "Backups"), backupList, h("div", { class: "button-row" }, take), backupResult),
    h("section", { class: "panel", "aria-labelledby": "outbox-heading" }, h("h2", { id: "outbox-heading" }, "Mail and SMS"), outbox, outboxResult),
  );
  await Promise.all([loadBackups(), loadOutbox()]);
}
