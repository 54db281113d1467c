// Webhooks (admins only): the endpoints that hear of events, registering one (its secret shown
// once), a new secret (the old one signs beside it for a day), removal, and each endpoint's
// recent deliveries with "Send again".

import { api } from "../api.js";
import { formatDateTime, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, checkbox, field, submit } from "../forms.js";
import { adminNav, guard, table } from "../admin-common.js";

export const title = "Webhooks";

const EVENTS = [
  ["user.email_verified", "A student verified their email"],
  ["user.updated", "A profile changed (which fields, not their values)"],
  ["user.disabled", "An account was disabled"],
  ["user.enabled", "An account was enabled again"],
  ["user.deleted", "An account was deleted"],
  ["driver.submitted", "A licence was sent for review"],
  ["driver.approved", "A driver was approved"],
  ["driver.rejected", "A licence was rejected"],
  ["driver.suspended", "A driver was suspended (licence expired)"],
  ["driver.licence_expiring", "A licence expires in 7, 3 or 1 days"],
];

function secretNotice(verb, hook) {
  return notice(
    "success",
    h("p", { class: "wrap-anywhere" }, `The webhook to ${hook.url} is ${verb}. Copy its secret into the receiving app now: it is not shown again.`),
    h("dl", { class: "client-credentials" }, h("dt", {}, "secret"), h("dd", {}, h("code", { class: "client-secret" }, hook.secret))),
  );
}

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/webhooks")) return;
  const list = h("div");
  const deliveries = h("div");
  const result = h("div", { role: "status", class: "form-result" });
  const showError = (error) => replace(result, notice("error", h("p", {}, error.message)));

  const showDeliveries = async (hook) => {
    const rows = await api("GET", `/api/v1/admin/webhooks/${encodeURIComponent(hook.id)}/deliveries?limit=20`);
    const lines = rows.map((d) => {
      const again = h("button", { type: "button", class: "button small secondary", "aria-label": `Send ${d.event_type} again` }, "Send again");
      busyClick(
        again,
        async () => {
          await api("POST", `/api/v1/admin/webhooks/${encodeURIComponent(hook.id)}/deliveries/${d.id}/redeliver`);
          replace(result, notice("success", h("p", {}, `${d.event_type} is queued again, with the same webhook-id.`)));
          await showDeliveries(hook);
        },
        showError,
      );
      const state = d.state === "failed" ? `Failed: ${d.last_error ?? "no answer"}` : d.state === "pending" && d.attempts ? `Retrying (${d.last_error ?? "no answer"})` : d.state;
      return [d.event_type, formatDateTime(d.created_at), state, String(d.attempts), d.state === "pending" ? null : again];
    });
    replace(
      deliveries,
      h("h3", { class: "wrap-anywhere" }, `Recent deliveries to ${hook.url}`),
      lines.length ? table("Recent deliveries", ["Event", "Happened", "State", "Tries", "Actions"], lines) : h("p", { class: "empty" }, "Nothing sent there yet."),
    );
  };

  const reload = async () => {
    let hooks;
    try {
      hooks = await api("GET", "/api/v1/admin/webhooks");
    } catch (error) {
      showError(error);
      return;
    }
    const rows = hooks.map((hook) => {
      const show = h("button", { type: "button", class: "button small secondary", "aria-label": `Deliveries to ${hook.url}` }, "Deliveries");
      busyClick(show, () => showDeliveries(hook), showError);
      const rotate = h("button", { type: "button", class: "button small secondary", "aria-label": `New secret for ${hook.url}` }, "New secret");
      busyClick(
        rotate,
        async () => {
          const rotated = await api("POST", `/api/v1/admin/webhooks/${encodeURIComponent(hook.id)}/secret`);
          replace(result, secretNotice("given a new secret (the old one keeps signing beside it for 24 hours)", rotated));
          await reload();
        },
        showError,
      );
      const remove = h("button", { type: "button", class: "button small danger", "aria-label": `Remove the webhook to ${hook.url}` }, "Remove");
      const actions = h("div", { class: "button-row" }, show, rotate, remove);
      remove.addEventListener("click", () => {
        const confirm = h("button", { type: "button", class: "button small danger" }, "Yes, remove it");
        const cancel = h("button", { type: "button", class: "button small secondary" }, "Cancel");
        const questionId = `remove-${hook.id}`;
        cancel.addEventListener("click", () => {
          replace(actions, show, rotate, remove);
          remove.focus();
        });
        busyClick(
          confirm,
          async () => {
            await api("DELETE", `/api/v1/admin/webhooks/${encodeURIComponent(hook.id)}`);
            replace(result, notice("success", h("p", { class: "wrap-anywhere" }, `The webhook to ${hook.url} is removed.`)));
            replace(deliveries);
            await reload();
          },
          showError,
        );
        replace(
          actions,
          h(
            "div",
            { class: "confirm", role: "group", "aria-labelledby": questionId },
            h("p", { id: questionId }, "Remove this webhook? Deliveries still waiting for it are dropped."),
            h("div", { class: "button-row" }, confirm, cancel),
          ),
        );
        confirm.focus();
      });
      const events = hook.events.length === EVENTS.length ? "every event" : hook.events.join(", ");
      return h(
        "li",
        { class: "panel-item" },
        h("p", {}, h("code", { class: "wrap-anywhere" }, hook.url)),
        h("p", { class: "hint" }, `Sends ${events}. Added ${formatDateTime(hook.created_at)}.`),
        actions,
      );
    });
    replace(list, rows.length ? h("ul", { class: "hook-list", "aria-label": "Webhooks" }, rows) : h("p", { class: "empty" }, "No webhooks yet."));
  };

  const form = h(
    "form",
    { class: "stack", "aria-label": "Add a webhook" },
    field({ name: "url", label: "URL", type: "url", hint: "Where events are posted: https (http only on 127.0.0.1, for development).", required: "Give the URL", maxlength: 2000 }),
    h(
      "fieldset",
      { class: "field", "data-field": "events" },
      h("legend", {}, "Events (none ticked: every event)"),
      h("p", { class: "field-error" }),
      EVENTS.map(([name, label]) => checkbox({ name: `event_${name}`, label: `${label} (${name})` })),
    ),
    submit("Add the webhook"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      const events = EVENTS.map(([name]) => name).filter((name) => v[`event_${name}`]);
      const hook = await api("POST", "/api/v1/admin/webhooks", { url: v.url, events });
      form.reset();
      await reload();
      replace(result, secretNotice("added", hook));
    },
  });
  replace(
    root,
    adminNav("/admin/webhooks"),
    h(
      "section",
      { class: "panel", "aria-labelledby": "hooks-heading" },
      h("h2", { id: "hooks-heading" }, "Webhooks"),
      h("p", {}, "Campus apps hear of events at once, signed the Standard Webhooks way. Events carry ids and states, never names or addresses."),
      list,
      result,
      deliveries,
    ),
    h("section", { class: "panel", "aria-labelledby": "new-hook-heading" }, h("h2", { id: "new-hook-heading" }, "Add a webhook"), form),
  );
  await reload();
}
