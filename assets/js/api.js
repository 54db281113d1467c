// Talking to the Gatehouse API: JSON in and out, the CSRF header on unsafe requests, and
// problem+json errors turned into an ApiError whose message a student can act on.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Paths whose successful answer proves the session was used (and its idle timer reset). */
const AUTHENTICATED_PREFIXES = ["/api/v1/account", "/api/v1/admin", "/api/v1/auth/session", "/api/v1/driver"];

/** An error answer from the API (or no answer at all). */
export class ApiError extends Error {
  constructor(problem, { status = 0, retryAfter = null, requestId = null } = {}) {
    super(problem.detail || problem.title || "Something went wrong.");
    this.name = "ApiError";
    this.problem = problem;
    this.status = status;
    this.code = problem.code || "unknown";
    this.retryAfter = retryAfter;
    this.requestId = requestId;
    /** Field errors from `validation_failed`: [{field, message}]. */
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

/** The CSRF cookie's value: `__Host-gatehouse_csrf` in production, `gatehouse_csrf` otherwise. */
export function csrfToken() {
  const cookies = Object.fromEntries(
    document.cookie
      .split(";")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const eq = part.indexOf("=");
        return eq < 0 ? [part, ""] : [part.slice(0, eq), decodeURIComponent(part.slice(eq + 1))];
      }),
  );
  return cookies["__Host-gatehouse_csrf"] ?? cookies.gatehouse_csrf ?? "";
}

/**
 * Deletes the CSRF cookie of a session the server no longer knows (the session cookie is
 * HttpOnly: the server clears it at sign-out, and a dead one is merely ignored).
 */
export function forgetCsrfCookie() {
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  for (const name of ["__Host-gatehouse_csrf", "gatehouse_csrf"]) {
    document.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Lax${secure}`;
  }
}

/**
 * Calls the API. Resolves with the parsed JSON body (or null for 204); rejects with ApiError.
 * `body` is sent as JSON when given.
 */
export async function api(method, path, body = undefined, { signal } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(
      {
        code: "network_error",
        detail: "Gatehouse cannot be reached. Check your internet connection and try again.",
      },
      { status: 0 },
    );
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }

  if (response.ok) {
    if (AUTHENTICATED_PREFIXES.some((prefix) => path.startsWith(prefix))) {
      window.dispatchEvent(new CustomEvent("gatehouse:activity"));
    }
    return data;
  }

  const problem = data && typeof data === "object" ? data : { code: "unknown" };
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  const error = new ApiError(problem, {
    status: response.status,
    retryAfter: Number.isFinite(retry) ? retry : null,
    requestId: response.headers.get("X-Request-Id"),
  });
  error.message = describe(error);
  if (response.status === 401 && error.code === "unauthenticated") {
    window.dispatchEvent(new CustomEvent("gatehouse:signed-out"));
  }
  throw error;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A wait in words: "45 seconds" under two minutes, "15 minutes" (rounded up) above. */
export function waitWords(seconds) {
  const s = Math.max(0, Math.ceil(Number(seconds) || 0));
  return s < 120 ? plural(s, "second") : plural(Math.ceil(s / 60), "minute");
}

/** The words shown to a person for an error: the API's `detail`, with a few friendlier ones. */
function describe(error) {
  const { status, code, problem } = error;
  switch (code) {
    case "unauthenticated":
      return "You are not signed in, or your session has ended. Please sign in again.";
    case "csrf_failed":
      return "This page is out of date. Reload the page and try again.";
    case "rate_limited": {
      const wait = error.retryAfter;
      return wait
        ? `Too many tries. Please wait ${waitWords(wait)} and try again.`
        : "Too many tries. Please wait a little and try again.";
    }
    case "validation_failed":
      return error.fieldErrors.length
        ? "Some of the answers need fixing: see the messages next to them."
        : problem.detail || "Some of the answers need fixing.";
    default:
      break;
  }
  if (status === 429) return "Too many tries. Please wait a little and try again.";
  if (status >= 500) {
    const ref = error.requestId ? ` If it keeps happening, tell campus IT this reference: ${error.requestId}.` : "";
    return `Something went wrong on our side. Please try again in a minute.${ref}`;
  }
  if (problem.detail) return sentence(problem.detail);
  return "Something went wrong. Please try again.";
}

/** Sentence case for a field message ("a campus needs..." becomes "A campus needs..."). */
export function sentence(text) {
  const s = String(text ?? "").trim();
  if (!s) return s;
  const first = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
