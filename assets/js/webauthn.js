// Passkeys (WebAuthn) in the browser: the API sends the ceremony options as JSON with every
// binary field in base64url (webauthn-rs's shapes); navigator.credentials wants ArrayBuffers.
// This module converts both ways and turns the browser's refusals into words. It is written
// out by hand rather than with PublicKeyCredential.parseCreationOptionsFromJSON because that
// is missing from browsers still in use (Safari before 18, Firefox before 119).

/** Whether this browser can use passkeys at all. */
export function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && Boolean(navigator.credentials?.create);
}

/**
 * Whether passkeys can work on this address. WebAuthn refuses an IP address as the relying
 * party id, and the server then answers 404 passkeys_unavailable: deciding it here spares
 * every signed-out page a failing request.
 */
export function passkeysPossibleHere() {
  const host = window.location.hostname;
  return !/^\d{1,3}(\.\d{1,3}){3}$/.test(host) && !host.includes(":") && !host.startsWith("[");
}

/** Whether the browser offers passkeys in the email field's autofill (conditional mediation). */
export async function autofillAvailable() {
  if (!passkeysSupported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

export function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

export function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The options object itself. webauthn-rs serialises a challenge as {publicKey: {...}} (and a
 * conditional one with `mediation` beside it); the API may pass either shape on.
 */
function unwrap(options) {
  return options && typeof options.publicKey === "object" ? options.publicKey : options;
}

/**
 * A copy without null members: webauthn-rs may write an absent optional as null, which the
 * browser reads as a value (e.g. `authenticatorAttachment: null` is not a valid enum value).
 */
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

function credentialIds(list) {
  return (list ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
}

/** PublicKeyCredentialCreationOptions for navigator.credentials.create. */
export function creationOptions(json) {
  const o = withoutNulls(unwrap(json));
  return {
    ...o,
    challenge: fromBase64url(o.challenge),
    user: { ...o.user, id: fromBase64url(o.user.id) },
    excludeCredentials: credentialIds(o.excludeCredentials),
  };
}

/** PublicKeyCredentialRequestOptions for navigator.credentials.get. */
export function requestOptions(json) {
  const o = withoutNulls(unwrap(json));
  const out = { ...o, challenge: fromBase64url(o.challenge) };
  if (o.allowCredentials) out.allowCredentials = credentialIds(o.allowCredentials);
  return out;
}

/** A new credential as the API takes it back (binary fields in base64url). */
export function registrationJSON(credential) {
  const response = {
    attestationObject: toBase64url(credential.response.attestationObject),
    clientDataJSON: toBase64url(credential.response.clientDataJSON),
  };
  const transports = credential.response.getTransports?.();
  if (transports?.length) response.transports = transports;
  return { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response, extensions: {} };
}

/** An assertion as the API takes it back; `userHandle` is null when the authenticator sent none. */
export function assertionJSON(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toBase64url(r.authenticatorData),
      clientDataJSON: toBase64url(r.clientDataJSON),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle && r.userHandle.byteLength ? toBase64url(r.userHandle) : null,
    },
    extensions: {},
  };
}

/**
 * Creates a passkey from the API's creation options; resolves with the JSON to send back.
 * A browser that throws a TypeError over an extension it does not know is asked again
 * without extensions (the TypeError comes before any dialog, so nobody sees two).
 */
export async function createPasskey(publicKeyJSON) {
  const publicKey = creationOptions(publicKeyJSON);
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey });
  } catch (error) {
    if (error?.name !== "TypeError" || !publicKey.extensions) throw error;
    delete publicKey.extensions;
    credential = await navigator.credentials.create({ publicKey });
  }
  return registrationJSON(credential);
}

/**
 * Asks the browser for an assertion from the API's request options; `mediation:
 * "conditional"` waits for the student to pick a passkey in the email field's autofill.
 * Resolves with the JSON to send back.
 */
export async function getPasskey(publicKeyJSON, { mediation, signal } = {}) {
  const request = { publicKey: requestOptions(publicKeyJSON), signal };
  if (mediation) request.mediation = mediation;
  const credential = await navigator.credentials.get(request);
  return assertionJSON(credential);
}

/** Whether an error is our own abort of a pending request (not worth showing). */
export function isAbort(error) {
  return error?.name === "AbortError";
}

/**
 * Words for a browser's refusal of a ceremony. NotAllowedError covers both "cancelled" and
 * "timed out" (browsers do not say which, on purpose), so the words cover both.
 */
export function browserProblem(error, creating = false) {
  switch (error?.name) {
    case "NotAllowedError":
      return creating
        ? "No passkey was made: it was cancelled, took too long, or this device could not confirm it was you. Try again."
        : "No passkey was used: it was cancelled, took too long, or this device could not confirm it was you. Try again, or sign in with your password.";
    case "InvalidStateError":
      return creating
        ? "This device already has a passkey for your account. Use it, or add one on another device."
        : "This passkey cannot be used here. Try another one.";
    case "SecurityError":
      return "Passkeys do not work on this address. Open Gatehouse at its usual address and try again.";
    case "NotSupportedError":
      return "This device cannot make a passkey of the kind Gatehouse needs (one that checks it is you, with a PIN, fingerprint or face).";
    default:
      return null;
  }
}
