// A device (a lab machine, a command-line tool) shows a short code and this page's address:
// the student types the code here, sees which app it belongs to and what it may read, and
// allows or refuses it. The device goes on by itself once they answer. (?user_code= fills the
// code in, for a QR code or a link; the student still sees the app before allowing it.)

import { api } from "../api.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, field, submit } from "../forms.js";

export const title = "Connect a device";

export function render(root, { who }) {
  const typed = new URLSearchParams(window.location.search).get("user_code") ?? "";
  if (!who) {
    const next = `/device${typed ? `?user_code=${encodeURIComponent(typed)}` : ""}`;
    window.location.assign(`/sign-in?next=${encodeURIComponent(next)}`);
    return;
  }
  const answer = h("div", { class: "stack" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Enter the code" },
    field({
      name: "user_code",
      label: "Code shown on the device",
      autocomplete: "off",
      hint: "Eight letters, like BCDF-GHJK. It works once, for ten minutes.",
      required: "Enter the code the device shows",
      value: typed,
      maxlength: 40,
    }),
    submit("Continue"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(answer);
      const code = v.user_code.trim();
      const view = await api("GET", `/api/v1/oauth/device?user_code=${encodeURIComponent(code)}`);
      showRequest(answer, form, view, who);
    },
  });
  replace(root, h("p", {}, "Signing in to an app on another device? Type the code it shows."), form, answer);
}

function showRequest(answer, form, view, who) {
  const status = h("div", { role: "status" });
  const decide = (approve) => async () => {
    await api("POST", "/api/v1/oauth/device", { user_code: view.user_code, approve });
    form.hidden = true;
    const done = approve
      ? `${view.client_name} is connected: go back to the device, it carries on by itself.`
      : `${view.client_name} was not allowed. You can close this page.`;
    replace(answer, notice(approve ? "success" : "info", h("p", {}, done)));
    announce(done);
  };
  const onError = (error) => replace(status, notice("error", h("p", {}, error.message)));
  const allow = busyClick(h("button", { type: "button", class: "button" }, "Allow"), decide(true), onError);
  const deny = busyClick(h("button", { type: "button", class: "button secondary" }, "Don't allow"), decide(false), onError);
  const me = who.user.email ?? who.user.phone ?? who.user.display_name;
  replace(
    answer,
    h("h2", {}, `Allow ${view.client_name}?`),
    h("p", {}, h("strong", {}, view.client_name), ` on the device showing ${view.user_code} wants to use your Gatehouse account (${me}).`),
    h("p", {}, "It will be able to:"),
    h("ul", { class: "consent-scopes" }, ...view.scopes.map((s) => h("li", {}, s.description))),
    h("p", {}, "Only allow it if you started this sign-in yourself, on a device in front of you."),
    status,
    h("div", { class: "button-row" }, allow, deny),
  );
  allow.focus();
}
