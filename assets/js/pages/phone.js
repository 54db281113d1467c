// Sign in with a code sent by SMS to a phone verified on the account (and "keep me signed in").

import { h, notice, replace } from "../dom.js";
import { phoneCodeFlow } from "../phone-code.js";
import { showSecondStep } from "./sign-in.js";

export const title = "Sign in with your phone";

export function render(root, { who, params, safeNext }) {
  const next = params.get("next");
  if (who) {
    const name = who.user.email ?? who.user.phone ?? who.user.display_name;
    replace(
      root,
      notice(
        "info",
        h("p", {}, `You are already signed in as ${name}. `, h("a", { href: "/account" }, "Go to your account"), " to add or change your phone."),
      ),
    );
    return;
  }
  const flow = phoneCodeFlow({
    mode: "sign-in",
    verifyLabel: "Sign in",
    onVerified: (result) => {
      const done = () => window.location.assign(safeNext(next));
      // A phone code is one factor: an account with two-step sign-in asks for its code too.
      if (result?.mfa_required) {
        showSecondStep(root, result.mfa_token, done, "The code from your phone was right");
        return;
      }
      done();
    },
  });
  const withNext = (path) => (next ? `${path}?next=${encodeURIComponent(next)}` : path);
  replace(
    root,
    h("p", {}, "We send a 6-digit code by SMS to the phone verified on your Gatehouse account."),
    flow.element,
    h(
      "ul",
      { class: "link-list" },
      h("li", {}, h("a", { href: withNext("/sign-in") }, "Sign in with your email and password"), " instead."),
      h("li", {}, "No phone on your account yet? Sign in with your email, then add one on your account page."),
    ),
  );
}
