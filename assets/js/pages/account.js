// The signed-in user's account: profile, phone (verified with a code by SMS), password,
// passkeys, two-step sign-in, sessions, the privacy policy, exporting and deleting the account's data,
// signing out.

import { api } from "../api.js";
import { formatDate, formatDateTime, formatRelative, h, notice, replace } from "../dom.js";
import { bindForm, busyClick, checkbox, field, submit } from "../forms.js";
import { passkeysSection } from "../passkeys.js";
import { phoneCodeFlow } from "../phone-code.js";
import { policyPrompt } from "../privacy.js";
import { signOut } from "../session.js";
import { attachStrengthMeter } from "../strength.js";
import { twoStepSection } from "../two-step.js";

export const title = "Your account";

export async function render(root, { who }) {
  if (!who) {
    window.location.replace("/sign-in?next=/account");
    return;
  }
  const loading = h("p", { role: "status" }, "Loading your account…");
  replace(root, loading);
  let user;
  try {
    user = await api("GET", "/api/v1/account");
  } catch (error) {
    replace(root, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
    return;
  }
  const sessions = sessionsSection();
  const apps = appsSection();
  const policy = h("div", { class: "policy-slot" });
  const password = passwordSection(user, () => sessions.reload());
  const deletion = deleteSection(user);
  // The passkey list says whether the account has a password (one made with a passkey instead
  // has none): then there is no password to change or to give before deleting.
  const twoStep = twoStepSection();
  const passkeys = passkeysSection({
    onLoaded: ({ has_password }) => {
      if (has_password) return;
      withoutPassword(password, deletion);
      twoStep.withoutPassword();
    },
  });
  replace(
    root,
    policy,
    profileSection(user),
    phoneSection(user),
    password,
    passkeys.element,
    twoStep.element,
    sessions.element,
    apps.element,
    dataSection(),
    deletion,
    signOutSection(),
  );
  await Promise.all([sessions.reload(), apps.reload(), showPolicyPrompt(policy)]);
}

/** Asks for the current privacy policy's acceptance, when it is still needed. */
async function showPolicyPrompt(slot) {
  let status;
  try {
    status = await api("GET", "/api/v1/account/policy-acceptance");
  } catch {
    return;
  }
  if (!status?.acceptance_required) return;
  const prompt = policyPrompt(status.current_version, async () => {
    replace(slot, notice("success", h("p", {}, `Thank you: you accepted version ${status.current_version} of the privacy policy.`)));
  });
  replace(slot, prompt.element);
  prompt.focus();
}

/** "Download your data": the export as a JSON file. */
function dataSection() {
  const result = h("div", { role: "status", class: "form-result" });
  const button = h("button", { type: "button", class: "button secondary" }, "Download your data");
  busyClick(
    button,
    async () => {
      replace(result);
      const data = await api("GET", "/api/v1/account/export");
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: "gatehouse-account-export.json" }, "gatehouse-account-export.json");
      replace(result, notice("success", h("p", {}, "Your data is ready: ", link, ".")));
      link.click();
    },
    (error) => replace(result, h("div", { role: "alert" }, notice("error", h("p", {}, error.message)))),
  );
  return section(
    "data-heading",
    "Your data",
    h("p", {}, "Download everything Gatehouse holds about you (profile, campus, sessions, sign-in history, privacy-policy acceptances) as one JSON file."),
    h("div", { class: "button-row" }, button),
    result,
  );
}

/** An account without a password: the password form gives way to how to set one. */
function withoutPassword(passwordSectionEl, deleteSectionEl) {
  const heading = passwordSectionEl.querySelector("h2");
  replace(
    passwordSectionEl,
    heading,
    h(
      "p",
      {},
      "Your account has no password: you sign in with a passkey. To set one, ask for a link on the ",
      h("a", { href: "/forgot-password" }, "“Forgotten your password?” page"),
      " (setting it signs you out everywhere).",
    ),
  );
  const passwordField = deleteSectionEl.querySelector('form .field[data-field="password"]');
  passwordField?.replaceWith(h("p", {}, "Your account has no password: if you signed in more than 10 minutes ago, sign in again first."));
}

/** Deleting the account: the password again and an explicit confirmation. */
function deleteSection(user) {
  const form = h(
    "form",
    { class: "stack", "aria-label": "Delete your account" },
    user.email
      ? field({
          name: "password",
          label: "Your password",
          type: "password",
          autocomplete: "current-password",
          required: "Enter your password to delete your account",
        })
      : h("p", {}, "Your account has no password: if you signed in more than 10 minutes ago, sign in again first."),
    checkbox({
      name: "confirm",
      label: "I understand that my account and my personal data will be deleted for good",
    }),
    submit("Delete my account", "danger"),
  );
  form.querySelector('[data-field="confirm"]').prepend(h("p", { class: "field-error", id: "confirm-delete-error" }));
  bindForm(form, {
    validate: (v) => (v.confirm ? [] : [{ field: "confirm", message: "Tick the box to confirm" }]),
    onSubmit: async (v) => {
      await api("DELETE", "/api/v1/account", { password: v.password ?? "" });
      window.location.assign("/sign-in?deleted=1");
    },
  });
  return section(
    "delete-heading",
    "Delete your account",
    h("p", {}, "This deletes your profile and personal data, and signs you out everywhere. Records of what happened stay in the audit log without your name. This cannot be undone."),
    form,
  );
}

function section(id, heading, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, heading), ...children);
}

function facts(user) {
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "dl",
    { class: "facts" },
    row("Email", user.email ? [user.email, user.email_verified ? "" : " (not confirmed)"] : "None"),
    row("Campus", user.campus?.name ?? "None"),
    row("Member since", formatDate(user.created_at)),
  );
}

function profileSection(user) {
  const result = h("div", { role: "status", class: "form-result" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Edit your profile" },
    field({
      name: "display_name",
      label: "Your name",
      autocomplete: "nickname",
      hint: "The name other people see.",
      value: user.display_name,
      required: "Enter the name other people will see",
      maxlength: 100,
    }),
    field({
      name: "legal_name",
      label: "Legal name",
      autocomplete: "name",
      hint: "As on your official documents. Leave it empty to remove it.",
      value: user.legal_name ?? "",
      optional: true,
    }),
    submit("Save profile"),
  );
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      const updated = await api("PATCH", "/api/v1/account", {
        display_name: v.display_name,
        legal_name: v.legal_name,
      });
      form.elements.display_name.value = updated.display_name;
      form.elements.legal_name.value = updated.legal_name ?? "";
      replace(result, notice("success", h("p", {}, "Your profile is saved.")));
    },
  });
  return section("profile-heading", "Profile", facts(user), form, result);
}

/** The phone: shown with whether it is verified, and verified (or changed) with a code by SMS. */
function phoneSection(user) {
  const body = h("div", { class: "phone-body" });
  // Always in the page (never display: none), so that what is put in it is announced.
  const result = h("div", { class: "live-result", role: "status" });
  const element = section("phone-heading", "Phone", body, result);
  const heading = element.querySelector("h2");
  heading.setAttribute("tabindex", "-1");

  const flowFor = (phone, { onCancel = null } = {}) =>
    phoneCodeFlow({
      mode: "link",
      phone,
      verifyLabel: "Verify phone",
      onCancel,
      onVerified: (answer) => {
        if (answer?.outcome !== "linked") {
          // The session ended meanwhile and the code signed in the phone's account instead:
          // show whoever is signed in now.
          window.location.reload();
          return;
        }
        draw(answer.user);
        replace(
          result,
          notice("success", h("p", {}, `${answer.user.phone} is verified. You can now sign in with a code sent to it.`)),
        );
        heading.focus();
      },
    });

  const draw = (u) => {
    const status = u.phone_verified
      ? h("span", { class: "tag tag-ok" }, "Verified")
      : h("span", { class: "tag tag-todo" }, "Not verified");
    const facts = u.phone
      ? h("dl", { class: "facts" }, h("dt", {}, "Mobile number"), h("dd", { class: "phone-number" }, u.phone, " ", status))
      : null;
    if (u.phone && u.phone_verified) {
      const other = h("button", { type: "button", class: "button secondary" }, "Use a different phone");
      const area = h("div", { class: "phone-change" });
      const closeChange = () => {
        replace(area);
        other.hidden = false;
        other.focus();
      };
      other.addEventListener("click", () => {
        replace(result);
        const flow = flowFor("", { onCancel: closeChange });
        replace(area, flow.element);
        other.hidden = true;
        flow.focus();
      });
      replace(
        body,
        facts,
        h("p", {}, "You can sign in with a code sent to this phone by SMS, on the ", h("a", { href: "/phone" }, "phone sign-in page"), "."),
        h("div", { class: "button-row" }, other),
        area,
      );
      return;
    }
    replace(
      body,
      facts,
      h(
        "p",
        {},
        u.phone
          ? "Verify this number to sign in with a code sent to it by SMS. We send a code; you type it here."
          : "Add a mobile number to sign in with a code sent to it by SMS. We send a code; you type it here.",
      ),
      flowFor(u.phone ?? "").element,
    );
  };
  draw(user);
  return element;
}

function passwordSection(user, afterChange) {
  const result = h("div", { role: "status", class: "form-result" });
  const newPassword = field({
    name: "new_password",
    label: "New password",
    type: "password",
    autocomplete: "new-password",
    hint: "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    required: "Choose a new password",
  });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Change your password" },
    field({
      name: "current_password",
      label: "Current password",
      type: "password",
      autocomplete: "current-password",
      required: "Enter your current password",
    }),
    newPassword,
    submit("Change password"),
  );
  const meter = attachStrengthMeter(newPassword, () => user.email);
  bindForm(form, {
    onSubmit: async (v) => {
      replace(result);
      await api("POST", "/api/v1/account/password", {
        current_password: v.current_password,
        new_password: v.new_password,
      });
      form.reset();
      meter.reset();
      replace(
        result,
        notice("success", h("p", {}, "Your password is changed. You were signed out on your other devices.")),
      );
      await afterChange();
    },
  });
  return section("password-heading", "Password", form, result);
}

/** "Chrome on Android" from a user agent; the raw string when it is not recognised. */
export function describeDevice(ua) {
  if (!ua) return "Unknown device";
  const browser =
    [
      [/Edg\//, "Edge"],
      [/OPR\//, "Opera"],
      [/Firefox\//, "Firefox"],
      [/Chrom(e|ium)\//, "Chrome"],
      [/Safari\//, "Safari"],
      [/^curl\//, "curl"],
    ].find(([re]) => re.test(ua))?.[1] ?? null;
  const system =
    [
      [/Android/, "Android"],
      [/iPhone|iPad|iPod/, "iOS"],
      [/Windows/, "Windows"],
      [/Mac OS X|Macintosh/, "macOS"],
      [/CrOS/, "ChromeOS"],
      [/Linux/, "Linux"],
    ].find(([re]) => re.test(ua))?.[1] ?? null;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? ua.slice(0, 60);
}

function sessionsSection() {
  const list = h("ul", { class: "session-list" });
  const result = h("div", { role: "status", class: "form-result" });
  const others = h("button", { type: "button", class: "button secondary" }, "Sign out everywhere else");
  const element = section(
    "sessions-heading",
    "Where you are signed in",
    h("p", {}, "If you see a device you do not know, sign it out and change your password."),
    list,
    h("div", { class: "button-row" }, others),
    result,
  );

  const fail = (error) => replace(result, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));

  const reload = async () => {
    let sessions;
    try {
      sessions = await api("GET", "/api/v1/account/sessions");
    } catch (error) {
      fail(error);
      return;
    }
    // This device first, then the others, most recently active first (the API's order).
    const ordered = [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
    replace(list, ordered.map((s) => sessionItem(s)));
    others.hidden = !sessions.some((s) => !s.current);
  };

  const sessionItem = (s) => {
    const device = describeDevice(s.user_agent);
    const item = h(
      "li",
      { class: "session", "data-session-id": s.id, "data-current": String(s.current) },
      h(
        "p",
        { class: "session-device" },
        h("strong", {}, device),
        s.current ? h("span", { class: "tag" }, "This device") : null,
      ),
      h(
        "dl",
        { class: "facts compact" },
        s.ip ? [h("dt", {}, "Network address"), h("dd", {}, s.ip)] : null,
        h("dt", {}, "Signed in"),
        h("dd", {}, formatDateTime(s.created_at)),
        h("dt", {}, "Last active"),
        h("dd", {}, h("time", { datetime: s.last_seen_at, title: formatDateTime(s.last_seen_at) }, formatRelative(s.last_seen_at))),
        h("dt", {}, s.remember_me ? "Kept signed in until" : "Ends at the latest"),
        h("dd", {}, formatDateTime(s.expires_at)),
      ),
    );
    if (!s.current) {
      const button = h(
        "button",
        { type: "button", class: "button secondary small", "aria-label": `Sign out this device: ${device}, signed in ${formatDateTime(s.created_at)}` },
        "Sign out this device",
      );
      busyClick(
        button,
        async () => {
          replace(result);
          await api("DELETE", `/api/v1/account/sessions/${encodeURIComponent(s.id)}`);
          await reload();
          replace(result, notice("success", h("p", {}, `${device} is signed out.`)));
          list.closest("section").querySelector("h2").focus();
        },
        fail,
      );
      item.append(button);
    }
    return item;
  };

  busyClick(
    others,
    async () => {
      replace(result);
      const answer = await api("DELETE", "/api/v1/account/sessions");
      await reload();
      const n = Number(answer?.revoked ?? 0);
      replace(
        result,
        notice("success", h("p", {}, n === 1 ? "1 other session is signed out." : `${n} other sessions are signed out.`)),
      );
    },
    fail,
  );
  element.querySelector("h2").setAttribute("tabindex", "-1");
  return { element, reload };
}

/** Apps the student let use their account (OpenID Connect), each with "Remove access". */
function appsSection() {
  const list = h("ul", { class: "session-list" });
  const result = h("div", { role: "status", class: "form-result" });
  const empty = h("p", {}, "No app uses your Gatehouse account.");
  const element = section(
    "apps-heading",
    "Connected apps",
    h("p", {}, "Apps you signed in to with Gatehouse. Removing an app's access signs you out of it and it must ask again."),
    empty,
    list,
    result,
  );
  const fail = (error) => replace(result, h("div", { role: "alert" }, notice("error", h("p", {}, error.message))));
  const reload = async () => {
    let apps;
    try {
      apps = await api("GET", "/api/v1/account/apps");
    } catch (error) {
      fail(error);
      return;
    }
    empty.hidden = apps.length > 0;
    replace(list, apps.map((app) => appItem(app)));
  };
  const appItem = (app) => {
    const button = h(
      "button",
      { type: "button", class: "button secondary small", "aria-label": `Remove access: ${app.name}` },
      "Remove access",
    );
    busyClick(
      button,
      async () => {
        replace(result);
        await api("DELETE", `/api/v1/account/apps/${encodeURIComponent(app.client_id)}`);
        await reload();
        replace(result, notice("success", h("p", {}, `${app.name} no longer has access.`)));
        element.querySelector("h2").focus();
      },
      fail,
    );
    return h(
      "li",
      { class: "session", "data-client-id": app.client_id },
      h("p", { class: "session-device" }, h("strong", {}, app.name)),
      h("p", {}, "Can read: ", app.scopes.map((s) => s.description).join("; ")),
      h("dl", { class: "facts compact" }, h("dt", {}, "Since"), h("dd", {}, formatDateTime(app.since))),
      button,
    );
  };
  element.querySelector("h2").setAttribute("tabindex", "-1");
  return { element, reload };
}

function signOutSection() {
  const result = h("div", { role: "status", class: "form-result" });
  const button = h("button", { type: "button", class: "button secondary" }, "Sign out");
  busyClick(
    button,
    async () => {
      await signOut();
      window.location.assign("/sign-in?signed_out=1");
    },
    (error) => replace(result, h("div", { role: "alert" }, notice("error", h("p", {}, error.message)))),
  );
  return section("signout-heading", "Sign out", h("p", {}, "Sign out of Gatehouse on this device."), h("div", { class: "button-row" }, button), result);
}
