// Sign in with email and password (and "keep me signed in"). A second factor is not offered
// by the API yet: an account that needs one is told so.

import { api } from "../api.js";
import { h, notice, replace } from "../dom.js";
import { bindForm, checkbox, field, showProblem, submit } from "../forms.js";
import { policyPrompt } from "../privacy.js";
import { resendPanel } from "./verify-email.js";

export const title = "Sign in";

function arrivalNotice(params) {
  if (params.get("expired")) {
    return notice("warning", h("p", {}, "You were signed out because nothing happened for a while. Sign in again to go on."));
  }
  if (params.get("signed_out")) return notice("success", h("p", {}, "You are signed out."));
  if (params.get("reset")) return notice("success", h("p", {}, "Your password is changed. Sign in with the new one."));
  if (params.get("deleted")) return notice("success", h("p", {}, "Your account and your personal data are deleted."));
  if (params.get("next")) return notice("info", h("p", {}, "Sign in to go on."));
  return null;
}

export function render(root, { who, params, safeNext }) {
  if (who) {
    replace(
      root,
      notice("info", h("p", {}, `You are already signed in as ${who.user.email ?? who.user.phone ?? who.user.display_name}. `, h("a", { href: "/account" }, "Go to your account"), ".")),
    );
    return;
  }
  const status = h("div", { role: "status", class: "arrival" }, arrivalNotice(params));
  const extra = h("div", { class: "after-form" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Sign in" },
    field({
      name: "email",
      label: "Email",
      type: "email",
      autocomplete: "username",
      required: "Enter your email address",
    }),
    field({
      name: "password",
      label: "Password",
      type: "password",
      autocomplete: "current-password",
      required: "Enter your password",
    }),
    checkbox({
      name: "remember_me",
      label: "Keep me signed in on this device",
      hint: "For up to 30 days. Do not choose this on a shared computer.",
    }),
    submit("Sign in"),
  );

  bindForm(form, {
    onSubmit: async (v) => {
      replace(extra);
      try {
        const result = await api("POST", "/api/v1/auth/login", {
          email: v.email,
          password: v.password,
          remember_me: v.remember_me,
        });
        if (result?.mfa_required) {
          replace(
            extra,
            notice(
              "warning",
              h("h2", {}, "A second sign-in step is needed"),
              h("p", {}, "Your account is protected with a second factor, and signing in with one is not available on this Gatehouse yet. Please ask campus IT for help."),
            ),
          );
          extra.querySelector("h2").setAttribute("tabindex", "-1");
          extra.querySelector("h2").focus();
          return;
        }
        const next = safeNext(params.get("next"));
        if (result?.policy_acceptance_required) {
          // Signed in; the new policy is accepted (or not) before going on.
          const prompt = policyPrompt(result.policy_version, () => window.location.assign(next));
          replace(root, prompt.element);
          prompt.focus();
          return;
        }
        window.location.assign(next);
      } catch (error) {
        showProblem(form, error);
        if (error.code === "email_not_verified") {
          replace(extra, h("h2", {}, "Send a new confirmation link"), resendPanel(v.email));
        }
      }
    },
  });

  replace(
    root,
    status,
    form,
    extra,
    h(
      "ul",
      { class: "link-list" },
      h("li", {}, h("a", { href: "/forgot-password" }, "Forgotten your password?")),
      h("li", {}, "New here? ", h("a", { href: "/sign-up" }, "Create an account")),
      h(
        "li",
        {},
        "Phone verified on your account? ",
        h("a", { href: params.get("next") ? `/phone?next=${encodeURIComponent(params.get("next"))}` : "/phone" }, "Sign in with a code sent to your phone"),
      ),
    ),
  );
}
