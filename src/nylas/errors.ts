import { NylasSdkTimeoutError } from "nylas";

/**
 * What went wrong with a Nylas call, decided by one pure function so that the worker's
 * reaction (re-auth, back off, retry, record and move on) never depends on where the
 * error was caught.
 */

export type Failure =
  | { kind: "auth"; status: 401; message: string; requestId?: string; type?: string }
  /** 403 `insufficient_scopes`: the user did not consent to what the request needs. */
  | { kind: "scope"; status: 403; message: string; requestId?: string; type: typeof INSUFFICIENT_SCOPES }
  | {
      kind: "rate_limited";
      status: 429;
      /** Who limited us: Nylas itself, or the mail/calendar provider behind it. */
      source: "nylas" | "provider";
      /** Delay the server asked for, in ms; undefined when it gave none. */
      retryAfterMs?: number;
      message: string;
      requestId?: string;
      type?: string;
    }
  | { kind: "transient"; status?: number; message: string; requestId?: string; type?: string; code?: string }
  | {
      kind: "permanent";
      status: number;
      message: string;
      requestId?: string;
      type?: string;
      /**
       * Never send this reminder again: a request with its idempotency key already reached
       * Nylas with another payload, and may have been delivered (see IDEMPOTENCY_MISMATCH).
       */
      neverResend?: true;
    };

export type FailureKind = Failure["kind"];

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/**
 * Nylas' answers to a send's `Idempotency-Key` (2026-04). In flight: the first request with
 * the key has not answered yet, so its outcome is unknown, as after a timeout (transient: the
 * claim is kept, and the next attempt checks, then retries under the same key). Mismatch: the
 * key already came with another payload (the meeting changed between attempts).
 */
export const IDEMPOTENCY_IN_FLIGHT = "api.concurrent_idempotent_request";
export const IDEMPOTENCY_MISMATCH = "api.invalid_idempotent_request";

/** Nylas' 403 when a grant lacks a provider scope the request needs (the spec's example). */
export const INSUFFICIENT_SCOPES = "insufficient_scopes";

/** Nylas' own limiter; anything else on a 429 is the provider's (Google, Microsoft, IMAP). */
const NYLAS_LIMIT_TYPES = new Set(["nylas_rate_limit_exceeded"]);

const MAX_MESSAGE = 300;

export function classifyError(err: unknown, now: Date = new Date()): Failure {
  const e = (err ?? {}) as Record<string, unknown>;
  const status = typeof e.statusCode === "number" ? e.statusCode : typeof e.status === "number" ? e.status : undefined;
  const requestId = str(e.requestId) ?? str(e.request_id);
  const type = str(e.type) ?? str(e.error);
  const message = shorten(err instanceof Error ? err.message : typeof err === "string" ? err : "unknown error");

  if (status !== undefined) {
    if (status === 401) return { kind: "auth", status, message, requestId, type };
    if (status === 403 && type === INSUFFICIENT_SCOPES) return { kind: "scope", status, message, requestId, type };
    if (status === 429) {
      const headers = (e.headers ?? {}) as Record<string, unknown>;
      const retryAfterMs = parseRetryAfter(headerValue(headers, "retry-after"), now);
      const source = type !== undefined && NYLAS_LIMIT_TYPES.has(type) ? "nylas" : "provider";
      return { kind: "rate_limited", status, source, retryAfterMs, message, requestId, type };
    }
    // 408 and 5xx are the server's trouble, not the request's; 504 from a provider too.
    if (status === 408 || status >= 500) return { kind: "transient", status, message, requestId, type };
    if (status === 409 && type === IDEMPOTENCY_IN_FLIGHT)
      return { kind: "transient", status, message, requestId, type };
    // A permanent refusal, and a final one: the first request under this key may have gone out
    // (Nylas keeps the answers of completed sends), so sending again under a new key could
    // deliver it twice, and under this key would be refused for the key's hour and sent after
    // it. The reminder is recorded as refused with no attempts left: at most once, not twice.
    if (status === 409 && type === IDEMPOTENCY_MISMATCH)
      return { kind: "permanent", status, message, requestId, type, neverResend: true };
    return { kind: "permanent", status, message, requestId, type };
  }

  const name = str(e.name) ?? "";
  if (err instanceof NylasSdkTimeoutError || name === "AbortError" || name === "TimeoutError") {
    return { kind: "transient", message, requestId, code: "timeout" };
  }
  const code = networkCode(err);
  if (code) return { kind: "transient", message, code };
  // Anything else has no HTTP answer behind it (a database or Redis outage, a bug): the
  // request may or may not have reached Nylas, so it is retried, never given up at once.
  return { kind: "transient", message, requestId, type };
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

function headerValue(headers: Record<string, unknown>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name)
      return Array.isArray(value)
        ? str(value[0])
        : (str(value) ?? (typeof value === "number" ? String(value) : undefined));
  }
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const code = str((current as Record<string, unknown>).code);
    if (code && NETWORK_CODES.has(code)) return code;
    current = (current as Record<string, unknown>).cause;
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function shorten(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE - 1)}…` : oneLine;
}

/** One line for logs and ledger rows; never includes request headers. */
export function describeFailure(f: Failure): string {
  const parts: string[] = [f.kind];
  if (f.status !== undefined) parts.push(String(f.status));
  if (f.type) parts.push(f.type);
  parts.push(f.message);
  if (f.requestId) parts.push(`request_id=${f.requestId}`);
  return parts.join(" ");
}

/**
 * What `GET /v3/grants/{id}` said when asked about a 401 from one of the grant's data routes:
 * the grant's `grant_status`, or the failure of that request itself.
 */
export type GrantCheck = { answered: "valid" | "invalid" } | { failed: Failure };

/**
 * Whose fault a 401 from a grant's data route is, from what `GET /v3/grants/{id}` said:
 *
 * - `grant`: Nylas says the grant is `invalid`, or has no such grant (404): the user must
 *   sign in again.
 * - `api_key`: the grant lookup itself was refused (401): the application's API key is
 *   wrong, rotated or revoked. No grant is to blame; the work waits for a key that works.
 * - `unconfirmed`: the grant is `valid` at Nylas, or the lookup failed otherwise (429, 5xx,
 *   no answer): nothing says the grant is at fault, so the failure is treated as transient
 *   and retried with back-off (the ledger makes retries safe). If the grant really went
 *   invalid and Nylas' `grant_status` catches up later, a retry finds that.
 */
export type UnauthorizedBlame = "grant" | "api_key" | "unconfirmed";

export function blameUnauthorized(check: GrantCheck): UnauthorizedBlame {
  if ("answered" in check) return check.answered === "invalid" ? "grant" : "unconfirmed";
  if (check.failed.status === 401) return "api_key";
  if (check.failed.status === 404) return "grant";
  return "unconfirmed";
}
