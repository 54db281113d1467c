// An app (OpenID Connect client) asks for access to the student's account: its name, where
// they will be sent, and what it may read, in plain words; "Allow" or "Don't allow". The page's
// query string is the app's authorization request; the API checks it again.

import { api } from "../api.js";
import { h, notice, replace } from "../dom.js";
import { busyClick } from "../forms.js";

export const title = "Allow access?";

export async function render(root, { who }) {
  const request = window.location.search.slice(1);
  if (!who) {
    const next = `/oauth/authorize?${request}`;
    window.location.assign(`/sign-in?next=${encodeURIComponent(next)}`);
    return;
  }
  let view;
  try {
    view = await api("GET", `/api/v1/oauth/consent?request=${encodeURIComponent(request)}`);
  } catch (error) {
    replace(root, notice("error", h("p", {}, error.message)));
    return;
  }
  const status = h("div", { role: "status" });
  const decide = (approve) => async () => {
    const answer = await api("POST", "/api/v1/oauth/consent", { request, approve });
    window.location.assign(answer.redirect_to);
  };
  const onError = (error) => replace(status, notice("error", h("p", {}, error.message)));
  const allow = busyClick(h("button", { type: "button", class: "button" }, "Allow"), decide(true), onError);
  const deny = busyClick(h("button", { type: "button", class: "button secondary" }, "Don't allow"), decide(false), onError);
  const who_ = who.user.email ?? who.user.phone ?? who.user.display_name;
  replace(
    root,
    h("p", {}, h("strong", {}, view.client_name), ` wants to use your Gatehouse account (${who_}).`),
    h("p", {}, "It will be able to:"),
    h("ul", { class: "consent-scopes" }, ...view.scopes.map((s) => h("li", {}, s.description))),
    h("p", {}, `After you answer you go back to ${view.redirect_host}. You can remove its access at any time on your account page.`),
    status,
    h("div", { class: "button-row" }, allow, deny),
  );
}
