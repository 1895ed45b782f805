import { stdSerializers } from "pino";

/**
 * Blanks secrets in whatever is about to be logged or stored: log lines (every field, any
 * depth), error text in Postgres (runs, ledger, grants) and in BullMQ (failed reason, stack).
 * Pure; cheap enough for the logging hot path (a string without any of the trigger
 * substrings is returned after one regex test).
 */

export const REDACTED = "[Redacted]";

/** Key names, compared lower-case without `-` and `_`, whose values are secrets at any depth. */
const SECRET_KEYS = new Set([
  "apikey",
  "xapikey",
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "token",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "password",
  "passwd",
  "secret",
  "clientsecret",
  "codeverifier",
  "xnylassignature",
  "privatekey",
  "databaseurl",
  "redisurl",
  "nylasapikey",
  "nylaswebhooksecret",
  "webhooksecret",
  "bullboardpassword",
  "sessionsecret",
]);
/** webhookSecret, csrfToken, dbPassword, nylasApiKey: the suffix says what the value is. */
const SECRET_SUFFIX = /(?:token|secret|password|apikey)$/;
/**
 * `code` is an OAuth authorization code in a callback, and an error code (ECONNREFUSED,
 * P2002, timeout) everywhere else; the second kind is worth keeping and looks like this.
 */
const ERROR_CODE = /^(?:[A-Z][A-Z0-9_]{0,39}|[a-z][a-z_]{0,39})$/;

const keyVerdicts = new Map<string, boolean>();

export function isSecretKey(key: string): boolean {
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    const k = key.toLowerCase().replace(/[-_]/g, "");
    verdict = SECRET_KEYS.has(k) || SECRET_SUFFIX.test(k);
    // Keys come from code, not data, but a bag of user-supplied keys must not grow this for ever.
    if (keyVerdicts.size > 2000) keyVerdicts.clear();
    keyVerdicts.set(key, verdict);
  }
  return verdict;
}

/** The value logged or stored under `key`: blanked when the key names a secret. */
function keyedValue(key: string, value: unknown, walkValue: (v: unknown) => unknown): unknown {
  if (value === undefined || value === null) return value;
  if (key === "code" || key === "Code") {
    return typeof value === "number" || (typeof value === "string" && ERROR_CODE.test(value)) ? value : REDACTED;
  }
  return isSecretKey(key) ? REDACTED : walkValue(value);
}

// Any of these substrings may start a secret; a string with none of them is left alone.
const TRIGGER = /:\/\/|bearer|basic|nyk_|=|"/i;
const CREDENTIALS = /\b(Bearer|Basic)\s+[^\s"'<>,;]+/gi;
const NYLAS_KEY = /\bnyk_[A-Za-z0-9_-]+/g;
/**
 * scheme://user:password@host. A password may hold `@`, `/` or `:` (people paste them
 * unencoded), so the userinfo runs to the last `@` of the URL; bounded so that a long
 * token cannot make the match quadratic.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s"'<>]{0,512})@/gi;
const PARAM_NAMES = [
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "client_secret",
  "secret",
  "code",
  "code_verifier",
  "password",
  "passwd",
  "api_key",
  "apikey",
  "key",
];
const JSON_NAMES = [
  ...PARAM_NAMES,
  "accessToken",
  "refreshToken",
  "idToken",
  "clientSecret",
  "codeVerifier",
  "authorization",
  "cookie",
  "x-nylas-signature",
];
/** `?code=…&refresh_token=…` in URLs and form bodies. */
const QUERY_PARAM = new RegExp(String.raw`(?<![\w-])(${PARAM_NAMES.join("|")})=[^&\s"'<>;,)]+`, "gi");
/** `"refresh_token":"…"` in a JSON body quoted inside an error message. */
const JSON_FIELD = new RegExp(String.raw`"(${JSON_NAMES.join("|")})"(\s*:\s*)"(?:[^"\\]|\\.)*"`, "gi");

/** Blanks credentials inside free text: messages, stacks, stored error text. */
export function scrubText(text: string): string {
  if (!TRIGGER.test(text)) return text;
  return text
    .replace(URL_USERINFO, userinfo)
    .replace(CREDENTIALS, `$1 ${REDACTED}`)
    .replace(NYLAS_KEY, REDACTED)
    .replace(QUERY_PARAM, `$1=${REDACTED}`)
    .replace(JSON_FIELD, `"$1"$2"${REDACTED}"`);
}

function userinfo(match: string, scheme: string, info: string): string {
  const colon = info.indexOf(":");
  // A user name alone is not a secret; `host/path/a@b.com` has no password either.
  if (colon < 0) return match;
  return `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
}

const MAX_DEPTH = 10;
/** Values visited per line: a class instance (a socket, a server) can reach far. */
const MAX_NODES = 2000;
// SDK errors carry their request (headers and all); none of it helps a reader.
const DROPPED_ERROR_KEYS = new Set(["config", "request", "headers", "raw"]);

interface Walk {
  parents: object[];
  nodes: number;
}

/**
 * A copy of `value` fit for a log line: secret-named keys blanked and every string
 * scrubbed, at any depth, in arrays, error causes, AggregateError.errors and fields such as
 * Prisma's `meta`. Errors anywhere become pino's error shape ({type, message, stack, …});
 * HTTP requests and replies (fastify logs them on a 5xx) become the few fields that help.
 */
export function scrubValue(value: unknown): unknown {
  return walk(value, { parents: [], nodes: 0 });
}

function walk(value: unknown, w: Walk): unknown {
  if (typeof value === "string") return scrubText(value);
  if (typeof value !== "object" || value === null) return value;
  if (w.parents.includes(value)) return "[Circular]";
  if (w.parents.length >= MAX_DEPTH) return "[Too deep]";
  if (++w.nodes > MAX_NODES) return "[Truncated]";
  w.parents.push(value);
  try {
    return walkObject(value, w);
  } finally {
    w.parents.pop();
  }
}

function walkObject(value: object, w: Walk): unknown {
  const next = (v: unknown) => walk(v, w);
  if (Array.isArray(value)) return value.map(next);
  if (value instanceof Error) return walkError(value, w);
  const http = httpShape(value);
  if (http) return next(http);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return next(toJSON.call(value));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = keyedValue(key, (value as Record<string, unknown>)[key], next);
  return out;
}

function walkError(err: Error, w: Walk): Record<string, unknown> {
  // pino's own shape: messages and stacks of the causes appended, AggregateError's errors kept.
  const shaped = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(shaped)) {
    if (DROPPED_ERROR_KEYS.has(key)) continue;
    out[key] = keyedValue(key, shaped[key], (v) => walk(v, w));
  }
  return out;
}

/**
 * Node's and fastify's requests and replies (and light-my-request's, in tests), reduced to
 * what fastify's own `req`/`res` serializers read after this walk: method, url, host, ip;
 * statusCode. Told by shape, since fastify's classes are not exported.
 */
function httpShape(value: object): Record<string, unknown> | undefined {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.method === "string" && typeof v.url === "string" && typeof v.headers === "object") {
    const socket = v.socket as { remoteAddress?: unknown } | undefined;
    return { method: v.method, url: v.url, host: v.host, ip: v.ip ?? socket?.remoteAddress };
  }
  if (typeof v.statusCode === "number" && (typeof v.setHeader === "function" || typeof v.header === "function"))
    return { statusCode: v.statusCode };
  return undefined;
}

/**
 * The error to throw out of a BullMQ processor, which stores `message` as the job's failed
 * reason and `stack` in its stacktrace: the same error (class, name, fields) with both
 * scrubbed. Returned as is when there was nothing to scrub.
 */
export function scrubError<T>(err: T): T {
  if (!(err instanceof Error)) return err;
  const message = scrubText(err.message);
  const stack = typeof err.stack === "string" ? scrubText(err.stack) : err.stack;
  if (message === err.message && stack === err.stack) return err;
  const copy = Object.create(Object.getPrototypeOf(err) as object, Object.getOwnPropertyDescriptors(err)) as Error;
  Object.defineProperty(copy, "message", { value: message, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(copy, "stack", { value: stack, writable: true, configurable: true, enumerable: false });
  return copy as T;
}
