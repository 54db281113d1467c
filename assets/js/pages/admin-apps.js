// Apps that sign people in through Gatehouse (OpenID Connect clients; admins only): the list,
// registering one (its secret shown once), a new secret, removal.

import { api } from "../api.js";
import { formatDate, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, checkbox, field, submit, textArea } from "../forms.js";
import { adminNav, guard, table } from "../admin-common.js";

export const title = "Apps";

const OPTIONAL_SCOPES = [
  ["email", "Email address"],
  ["profile", "Name"],
  ["phone", "Phone number"],
  ["campus", "Campus"],
  ["driver", "Driver verification (only for apps that need it, like ride-sharing)"],
];

/** What an app asks for unless the admin chooses otherwise (as the API's default). */
const DEFAULT_SCOPES = ["email", "profile"];

/** One URI a line (or separated by spaces) as a list. */
export function parseUris(text) {
  return String(text ?? "")
    .split(/\s+/)
    .map((u) => u.trim())
    .filter(Boolean);
}

/** The secret of an app, shown once, with what to do with it. */
function secretNotice(verb, app) {
  return notice(
    "success",
    h("p", {}, `${app.name} is ${verb}. Copy its secret into the app now: it is not shown again.`),
    h(
      "dl",
      { class: "client-credentials" },
      h("dt", {}, "client_id"),
      h("dd", {}, h("code", {}, app.client_id)),
      app.client_secret ? h("dt", {}, "client_secret") : null,
      app.client_secret ? h("dd", {}, h("code", { class: "client-secret" }, app.client_secret)) : null,
    ),
  );
}

export async function render(root, { who }) {
  if (!guard(root, who, "/admin/apps")) return;
  const list = h("div");
  const result = h("div", { role: "status", class: "form-result" });

  const reload = async () => {
    let apps;
    try {
      apps = await api("GET", "/api/v1/admin/clients");
    } catch (error) {
      replace(result, notice("error", h("p", {}, error.message)));
      return;
    }
    const rows = apps.map((app) => {
      const rotate = app.public ? null : h("button", { type: "button", class: "button small secondary", "aria-label": `New secret for ${app.name}` }, "New secret");
      if (rotate) {
        busyClick(
          rotate,
          async () => {
            const rotated = await api("POST", `/api/v1/admin/clients/${encodeURIComponent(app.client_id)}/secret`);
            replace(result, secretNotice("given a new secret (the old one no longer works)", rotated));
            await reload();
          },
          (error) => replace(result, notice("error", h("p", {}, error.message))),
        );
      }
      const remove = h("button", { type: "button", class: "button small danger", "aria-label": `Remove ${app.name}` }, "Remove");
      const actions = h("div", { class: "button-row" }, rotate, remove);
      remove.addEventListener("click", () => {
        const confirm = h("button", { type: "button", class: "button small danger" }, `Yes, remove ${app.name}`);
        const cancel = h("button", { type: "button", class: "button small secondary" }, "Cancel");
        const questionId = `remove-${app.client_id}`;
        cancel.addEventListener("click", () => {
          replace(actions, rotate, remove);
          remove.focus();
        });
        busyClick(
          confirm,
          async () => {
            await api("DELETE", `/api/v1/admin/clients/${encodeURIComponent(app.client_id)}`);
            replace(result, notice("success", h("p", {}, `${app.name} is removed.`)));
            await reload();
          },
          (error) => replace(result, notice("error", h("p", {}, error.message))),
        );
        replace(
          actions,
          h(
            "div",
            { class: "confirm", role: "group", "aria-labelledby": questionId },
            h("p", { id: questionId }, `Remove ${app.name}? It will no longer be able to sign anyone in.`),
            h("div", { class: "button-row" }, confirm, cancel),
          ),
        );
        confirm.focus();
      });
      const kind = `${app.public ? "Public" : "Confidential"}${app.trusted ? ", trusted" : ""}`;
      return [app.name, h("code", {}, app.client_id), kind, app.scopes.join(" "), app.redirect_uris.join(" "), formatDate(app.created_at), actions];
    });
    replace(
      list,
      rows.length
        ? table("Registered apps", ["App", "client_id", "Kind", "Scopes", "Redirect URIs", "Registered", "Actions"], rows)
        : h("p", { class: "empty" }, "No apps are registered yet."),
    );
  };

  const form = h(
    "form",
    { class: "stack", "aria-label": "Register an app" },
    field({ name: "name", label: "App name", hint: "As people will see it, for example North Rides.", required: "Give the app a name", maxlength: 100 }),
    textArea({
      name: "redirect_uris",
      label: "Redirect URIs",
      hint: "Where sign-ins return to, one a line, matched exactly: https, or http on 127.0.0.1 for an app on the same computer.",
      required: "Give at least one redirect URI",
      rows: 3,
    }),
    h(
      "fieldset",
      { class: "field", "data-field": "scopes" },
      h("legend", {}, "What the app may ask for (besides who the person is)"),
      h("p", { class: "field-error" }),
      OPTIONAL_SCOPES.map(([scope, label]) => checkbox({ name: `scope_${scope}`, label, checked: DEFAULT_SCOPES.includes(scope) })),
    ),
    checkbox({ name: "public", label: "Public app (mobile or desktop: no secret, PKCE only)" }),
    checkbox({ name: "trusted", label: "Campus-owned app: do not ask people to consent" }),
    submit("Register the app"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      const scopes = OPTIONAL_SCOPES.map(([scope]) => scope).filter((scope) => v[`scope_${scope}`]);
      const app = await api("POST", "/api/v1/admin/clients", {
        name: v.name,
        redirect_uris: parseUris(v.redirect_uris),
        public: v.public,
        trusted: v.trusted,
        scopes: ["openid", ...scopes],
      });
      form.reset();
      // The defaults again (a reset clears boxes that were checked by script).
      for (const scope of DEFAULT_SCOPES) form.elements[`scope_${scope}`].checked = true;
      await reload();
      replace(result, secretNotice("registered", app));
    },
  });

  replace(
    root,
    adminNav("/admin/apps"),
    h(
      "section",
      { class: "panel", "aria-labelledby": "apps-heading" },
      h("h2", { id: "apps-heading" }, "Apps that sign in through Gatehouse"),
      h("p", {}, "Campus apps registered here sign people in with OpenID Connect: give the app's team the issuer address, the client ID and (once) the secret. Their library reads the rest from discovery."),
      list,
      result,
    ),
    h("section", { class: "panel", "aria-labelledby": "new-app-heading" }, h("h2", { id: "new-app-heading" }, "Register an app"), form),
  );
  await reload();
}
