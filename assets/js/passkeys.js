// The account page's Passkeys section: the account's passkeys (name, added, last used) with
// rename and remove, and adding one. Adding asks for the password again when the session is
// older than 5 minutes (the API says so with 403 reauthentication_required); an account
// without a password signs in again instead.

import { api } from "./api.js";
import { announce, formatDate, formatDateTime, formatRelative, h, notice, replace } from "./dom.js";
import { bindForm, busyClick, field, showErrors, submit } from "./forms.js";
import { createForForm, nameField, registerProblem, validateName } from "./passkey-setup.js";
import { passkeysPossibleHere, passkeysSupported } from "./webauthn.js";

const HEADING_ID = "passkeys-heading";

/**
 * The section element ({element}); it loads its list itself and tells `onLoaded` the list's
 * answer ({passkeys, has_password}).
 */
export function passkeysSection({ onLoaded } = {}) {
  const list = h("ul", { class: "passkey-list", "aria-label": "Your passkeys" });
  const empty = h("p", { hidden: true }, "You have no passkeys yet.");
  const result = h("div", { role: "status", class: "form-result" });
  const addArea = h("div", { class: "passkey-add" });
  const addButton = h("button", { type: "button", class: "button", "aria-expanded": "false" }, "Add a passkey");
  const addRow = h("div", { class: "button-row" }, addButton);
  const heading = h("h2", { id: HEADING_ID, tabindex: "-1" }, "Passkeys");
  const element = h(
    "section",
    { class: "panel", "aria-labelledby": HEADING_ID },
    heading,
    h("p", {}, "A passkey signs you in with your device's PIN, fingerprint or face, with no password to type. It only works on Gatehouse, so a fake site cannot trick you into giving it away."),
    empty,
    list,
    addRow,
    addArea,
    result,
  );
  // Where passkeys cannot work (Gatehouse at an IP address) the section is left out.
  if (!passkeysPossibleHere()) {
    element.hidden = true;
    return { element };
  }
  if (!passkeysSupported()) {
    replace(addRow, h("p", { class: "hint" }, "This browser cannot use passkeys: to add one, use another browser or device."));
  }

  let hasPassword = true;
  const say = (kind, text) => replace(result, kind === "error" ? h("div", { role: "alert" }, notice(kind, h("p", {}, text))) : notice(kind, h("p", {}, text)));

  const reload = async () => {
    let answer;
    try {
      answer = await api("GET", "/api/v1/account/passkeys");
    } catch (error) {
      say("error", error.message);
      return;
    }
    hasPassword = answer.has_password;
    onLoaded?.(answer);
    empty.hidden = answer.passkeys.length > 0;
    replace(list, answer.passkeys.map((p) => passkeyItem(p)));
  };

  const passkeyItem = (passkey) => {
    const nameId = `passkey-${passkey.id}-name`;
    const area = h("div", { class: "passkey-edit" });
    const renameButton = h("button", { type: "button", class: "button secondary small", "aria-expanded": "false", "aria-label": `Rename ${passkey.name}` }, "Rename");
    const removeButton = h("button", { type: "button", class: "button danger small", "aria-label": `Remove ${passkey.name}` }, "Remove");
    const close = (focus) => {
      replace(area);
      renameButton.setAttribute("aria-expanded", "false");
      focus?.focus();
    };

    renameButton.addEventListener("click", () => {
      if (renameButton.getAttribute("aria-expanded") === "true") {
        close(renameButton);
        return;
      }
      const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
      const form = h("form", { class: "stack", "aria-label": `Rename ${passkey.name}` }, nameField(passkey.name), h("div", { class: "button-row" }, submit("Save name"), cancel));
      cancel.addEventListener("click", () => close(renameButton));
      bindForm(form, {
        validate: validateName,
        onSubmit: async (v) => {
          const renamed = await api("PATCH", `/api/v1/account/passkeys/${encodeURIComponent(passkey.id)}`, { name: v.name });
          await reload();
          say("success", `The passkey is now called “${renamed.name}”.`);
          list.querySelector(`[data-passkey-id="${CSS.escape(String(renamed.id))}"] h3`)?.focus();
        },
      });
      replace(area, form);
      renameButton.setAttribute("aria-expanded", "true");
      form.elements.name.select();
      form.elements.name.focus();
    });

    removeButton.addEventListener("click", () => {
      renameButton.setAttribute("aria-expanded", "false");
      const confirm = h("button", { type: "button", class: "button danger" }, `Yes, remove ${passkey.name}`);
      const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
      const refusal = h("div", { role: "alert" });
      busyClick(
        confirm,
        async () => {
          replace(refusal);
          await api("DELETE", `/api/v1/account/passkeys/${encodeURIComponent(passkey.id)}`);
          await reload();
          say("success", `“${passkey.name}” is removed. It no longer signs you in.`);
          heading.focus();
        },
        async (error) => {
          if (error.code === "passkey_not_found") {
            await reload();
            say("info", `“${passkey.name}” was already removed.`);
            heading.focus();
            return;
          }
          // 409 last_sign_in_method: its detail says why (the only way into the account).
          replace(refusal, notice("error", h("p", {}, error.message)));
        },
      );
      cancel.addEventListener("click", () => close(removeButton));
      replace(
        area,
        h(
          "div",
          { class: "confirm", role: "group", "aria-labelledby": `${nameId}-confirm` },
          h("p", { id: `${nameId}-confirm` }, `Remove ${passkey.name}? It will no longer sign you in. The copy on your device stays until you delete it there.`),
          h("div", { class: "button-row" }, confirm, cancel),
          refusal,
        ),
      );
      confirm.focus();
    });

    const lastUsed = passkey.last_used_at
      ? h("time", { datetime: passkey.last_used_at, title: formatDateTime(passkey.last_used_at) }, formatRelative(passkey.last_used_at))
      : "Not yet";
    return h(
      "li",
      { class: "session passkey", "data-passkey-id": String(passkey.id) },
      h("h3", { id: nameId, tabindex: "-1", class: "session-device" }, passkey.name),
      h(
        "dl",
        { class: "facts compact" },
        h("dt", {}, "Added"),
        h("dd", {}, formatDate(passkey.created_at)),
        h("dt", {}, "Last used"),
        h("dd", {}, lastUsed),
        h("dt", {}, "Kept"),
        // Backed up (synced) by a password manager or the platform, or on one device only.
        h("dd", {}, passkey.synced ? "Synced across your devices" : "On one device or security key"),
      ),
      h("div", { class: "button-row" }, renameButton, removeButton),
      area,
    );
  };

  // --- Adding -------------------------------------------------------------------------------

  const closeAdd = () => {
    replace(addArea);
    addButton.setAttribute("aria-expanded", "false");
    addButton.focus();
  };

  addButton.addEventListener("click", () => {
    if (addButton.getAttribute("aria-expanded") === "true") {
      closeAdd();
      return;
    }
    replace(result);
    const cancel = h("button", { type: "button", class: "button secondary" }, "Cancel");
    cancel.addEventListener("click", closeAdd);
    const passwordSlot = h("div", { class: "password-slot" });
    const form = h(
      "form",
      { class: "stack", "aria-label": "Add a passkey" },
      nameField(),
      passwordSlot,
      h("div", { class: "button-row" }, submit("Create the passkey"), cancel),
    );
    bindForm(form, {
      validate: validateName,
      onSubmit: async (v) => {
        let options;
        try {
          options = await api("POST", "/api/v1/account/passkeys/options", v.password === undefined ? {} : { password: v.password });
        } catch (error) {
          if (error.code === "reauthentication_required") {
            askAgain(form, passwordSlot);
            return;
          }
          throw error;
        }
        let added;
        try {
          const credential = await createForForm(options);
          added = await api("POST", "/api/v1/account/passkeys", { challenge_id: options.challenge_id, name: v.name, credential });
        } catch (error) {
          const words = registerProblem(error);
          if (!words) throw error;
          showErrors(form, words);
          return;
        }
        replace(addArea);
        addButton.setAttribute("aria-expanded", "false");
        await reload();
        say("success", `“${added.name}” is added. You can now sign in with it, with no password to type.`);
        heading.focus();
        announce(`Passkey ${added.name} added.`);
      },
    });
    replace(addArea, form);
    addButton.setAttribute("aria-expanded", "true");
    form.elements.name.focus();
  });

  /** The session is not recent: the password again, or (without one) a fresh sign-in. */
  const askAgain = (form, slot) => {
    if (hasPassword) {
      replace(
        slot,
        field({
          name: "password",
          label: "Your password",
          type: "password",
          autocomplete: "current-password",
          hint: "You signed in more than 5 minutes ago: enter your password again to add a passkey.",
          required: "Enter your password",
        }),
      );
      showErrors(form, "Enter your password again to add a passkey.");
      form.elements.password.focus();
      return;
    }
    const next = encodeURIComponent(`/account#${HEADING_ID}`);
    replace(
      addArea,
      h(
        "div",
        { role: "alert" },
        notice(
          "warning",
          h("p", {}, "You signed in more than 5 minutes ago. To add a passkey, ", h("a", { href: `/sign-in?again=1&next=${next}` }, "sign in again"), ", then add it straight away."),
        ),
      ),
    );
    addButton.setAttribute("aria-expanded", "false");
  };

  reload();
  return { element };
}
