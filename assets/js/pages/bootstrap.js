// The first admin: the server prints a one-time link /bootstrap?token=... at start-up.

import { api } from "../api.js";
import { announce, h, notice, replace } from "../dom.js";
import { bindForm, field, showErrors, submit } from "../forms.js";
import { attachStrengthMeter } from "../strength.js";

export const title = "Create the first administrator";

export function render(root, { params }) {
  const token = params.get("token");
  if (!token) {
    replace(
      root,
      h("p", {}, "Open the set-up link that Gatehouse printed when it started. If there is no such link, an administrator exists already, or you can create one with the command ", h("code", {}, "gatehouse admin create"), "."),
    );
    return;
  }
  window.history.replaceState(null, "", "/bootstrap");

  const email = field({
    name: "email",
    label: "Email",
    type: "email",
    autocomplete: "username",
    hint: "The administrator signs in with this address. It does not need to be a campus address.",
    required: "Enter the administrator's email address",
  });
  const password = field({
    name: "password",
    label: "Password",
    type: "password",
    autocomplete: "new-password",
    hint: "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    required: "Choose a password",
  });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create the first administrator" },
    email,
    field({ name: "display_name", label: "Name", autocomplete: "name", hint: "Shown to other administrators.", optional: true, maxlength: 100 }),
    password,
    submit("Create administrator"),
  );
  attachStrengthMeter(password, () => form.elements.email.value.trim());

  bindForm(form, {
    onSubmit: async (v) => {
      const body = { token, email: v.email, password: v.password };
      if (v.display_name) body.display_name = v.display_name;
      try {
        await api("POST", "/api/v1/bootstrap", body);
      } catch (error) {
        if (error.code === "invalid_token" || error.code === "token_expired" || error.code === "token_already_used") {
          showErrors(
            form,
            "This set-up link does not work any more: it works once, for one hour, and only while there is no administrator. Restart Gatehouse for a new link, or use the command gatehouse admin create.",
          );
          return;
        }
        throw error;
      }
      const heading = h("h2", { tabindex: "-1" }, "The administrator account is ready");
      replace(
        root,
        h(
          "div",
          { class: "panel" },
          heading,
          h("p", {}, `Sign in as ${v.email}. The "Getting started" page then takes you through what comes next:`),
          h(
            "ol",
            {},
            h("li", {}, "turn on two-step sign-in for this account,"),
            h("li", {}, "add your campus and its email domains, so that people can sign up,"),
            h("li", {}, "connect a campus app to the API."),
          ),
          h("p", {}, h("a", { class: "button", href: "/sign-in?next=/admin/start" }, "Sign in")),
        ),
      );
      heading.focus();
      announce("The administrator account is ready.");
    },
  });

  replace(
    root,
    notice("info", h("p", {}, "This one-time page sets up the first administrator of this Gatehouse. It works for one hour after start-up.")),
    form,
  );
}
