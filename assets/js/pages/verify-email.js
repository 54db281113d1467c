// The target of the emailed link: /verify-email?token=... confirms the address at once.
// Without a token (or with a spent one) it offers to send a new link.

import { api } from "../api.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, field, submit } from "../forms.js";

export const title = "Confirm your email";

/** A small form that sends a new verification link; used here and after signing up / in. */
export function resendPanel(email = "") {
  const result = h("div", { class: "form-result", role: "status" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Send a new confirmation link" },
    field({
      name: "email",
      label: "Email address",
      type: "email",
      autocomplete: "email",
      value: email,
      required: "Enter the email address you signed up with",
    }),
    submit("Send the link again", "secondary"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      await api("POST", "/api/v1/auth/verify-email/resend", { email: v.email });
      replace(
        result,
        notice(
          "success",
          h("p", {}, `If ${v.email} has an account waiting to be confirmed, a new link is on its way. Only the newest link works.`),
        ),
      );
    },
  });
  return h("div", { class: "resend" }, form, result);
}

export async function render(root, { params }) {
  const token = params.get("token");
  if (!token) {
    replace(
      root,
      h("p", {}, "To confirm your email address, open the link we emailed you. If it has expired or you cannot find it, we can send a new one."),
      resendPanel(),
    );
    return;
  }
  // The token is single use: keep it out of the address bar and the history.
  window.history.replaceState(null, "", "/verify-email");

  const status = h("div", { role: "status", class: "form-result" }, h("p", {}, "Confirming your email address…"));
  replace(root, status);
  try {
    await api("POST", "/api/v1/auth/verify-email", { token });
  } catch (error) {
    const used = error.code === "token_already_used";
    replace(
      root,
      h(
        "div",
        { role: "alert" },
        notice(
          used ? "info" : "error",
          h("p", {}, used ? "This link has already been used. If you confirmed your address with it, you can sign in." : error.message),
        ),
      ),
      used ? h("p", {}, h("a", { class: "button", href: "/sign-in" }, "Sign in")) : null,
      h("h2", {}, "Need a new link?"),
      resendPanel(),
    );
    return;
  }
  const heading = h("h2", { tabindex: "-1" }, "Your email address is confirmed");
  replace(
    root,
    h(
      "div",
      { class: "panel" },
      heading,
      h("p", {}, "Your account is ready. Sign in with your email and password."),
      h("p", {}, h("a", { class: "button", href: "/sign-in" }, "Sign in")),
    ),
  );
  heading.focus();
  announce("Your email address is confirmed.");
}
