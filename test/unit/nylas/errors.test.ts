import { describe, expect, it } from "vitest";
import { NylasApiError, NylasSdkTimeoutError } from "nylas";
import {
  blameUnauthorized,
  classifyError,
  describeFailure,
  parseRetryAfter,
  type GrantCheck,
} from "../../../src/nylas/errors.js";

const now = new Date("2026-11-23T18:00:00Z");

function apiError(status: number, type: string, headers: Record<string, string> = {}, message = "boom") {
  return new NylasApiError(
    { requestId: "req-1", error: { type, message } } as never,
    status,
    "req-1",
    undefined,
    headers,
  );
}

function networkError(code: string) {
  return new TypeError("fetch failed", { cause: Object.assign(new Error(code), { code }) });
}

describe("classifyError", () => {
  const cases: [string, unknown, Record<string, unknown>][] = [
    ["401 from Nylas", apiError(401, "unauthorized"), { kind: "auth", status: 401, requestId: "req-1" }],
    [
      "429 Nylas limit with seconds",
      apiError(429, "nylas_rate_limit_exceeded", { "retry-after": "3" }),
      { kind: "rate_limited", source: "nylas", retryAfterMs: 3000 },
    ],
    [
      "429 provider limit with date",
      apiError(429, "rate_limit_error", { "Retry-After": "Mon, 23 Nov 2026 18:00:10 GMT" }),
      { kind: "rate_limited", source: "provider", retryAfterMs: 10_000 },
    ],
    [
      "429 without Retry-After",
      apiError(429, "rate_limit_error"),
      { kind: "rate_limited", source: "provider", retryAfterMs: undefined },
    ],
    ["500", apiError(500, "internal_error"), { kind: "transient", status: 500 }],
    ["503", apiError(503, "service_unavailable"), { kind: "transient", status: 503 }],
    ["504", apiError(504, "gateway_timeout"), { kind: "transient", status: 504 }],
    ["408", apiError(408, "request_timeout"), { kind: "transient", status: 408 }],
    ["400", apiError(400, "invalid_request_error"), { kind: "permanent", status: 400, type: "invalid_request_error" }],
    ["404", apiError(404, "not_found_error"), { kind: "permanent", status: 404 }],
    ["403", apiError(403, "forbidden"), { kind: "permanent", status: 403 }],
    ["403 insufficient_scopes", apiError(403, "insufficient_scopes"), { kind: "scope", status: 403 }],
    [
      "409 idempotency key in flight",
      apiError(409, "api.concurrent_idempotent_request"),
      { kind: "transient", status: 409, type: "api.concurrent_idempotent_request" },
    ],
    [
      "409 idempotency key with another payload",
      apiError(409, "api.invalid_idempotent_request"),
      { kind: "permanent", status: 409, type: "api.invalid_idempotent_request", neverResend: true },
    ],
    ["409 other conflict", apiError(409, "conflict"), { kind: "permanent", status: 409 }],
    ["SDK timeout", new NylasSdkTimeoutError("http://x", 30), { kind: "transient", code: "timeout" }],
    ["connection reset", networkError("ECONNRESET"), { kind: "transient", code: "ECONNRESET" }],
    ["connection refused", networkError("ECONNREFUSED"), { kind: "transient", code: "ECONNREFUSED" }],
    ["undici socket", networkError("UND_ERR_SOCKET"), { kind: "transient", code: "UND_ERR_SOCKET" }],
    ["bare fetch failed", new TypeError("fetch failed"), { kind: "transient" }],
    [
      "unparseable error body",
      new Error("Received an error but could not parse response from the server: <html>502</html>"),
      { kind: "transient" },
    ],
    [
      "database outage (no HTTP answer)",
      new Error("Can't reach database server at 127.0.0.1:5432"),
      { kind: "transient" },
    ],
    ["programming error", new TypeError("x is not a function"), { kind: "transient" }],
    ["thrown string", "weird", { kind: "transient", message: "weird" }],
    ["null", null, { kind: "transient" }],
  ];
  it.each(cases)("%s", (_name, err, expected) => {
    expect(classifyError(err, now)).toMatchObject(expected);
  });

  it("only the idempotency mismatch forbids a resend", () => {
    expect(classifyError(apiError(409, "conflict"), now)).not.toHaveProperty("neverResend");
    expect(classifyError(apiError(400, "invalid_request_error"), now)).not.toHaveProperty("neverResend");
  });

  it("keeps messages to one short line", () => {
    const f = classifyError(new Error(`line1\nline2 ${"x".repeat(1000)}`), now);
    expect(f.message).not.toContain("\n");
    expect(f.message.length).toBeLessThanOrEqual(300);
  });

  it("describes a failure on one line with its request id", () => {
    expect(describeFailure(classifyError(apiError(401, "unauthorized", {}, "grant expired"), now))).toBe(
      "auth 401 unauthorized grant expired request_id=req-1",
    );
  });
});

describe("parseRetryAfter", () => {
  it.each([
    ["0", 0],
    ["2", 2000],
    ["1.5", 1500],
    [" 7 ", 7000],
    ["Mon, 23 Nov 2026 18:01:00 GMT", 60_000],
    ["Mon, 23 Nov 2026 17:00:00 GMT", 0],
    ["soon", undefined],
    ["-5", undefined],
    ["", undefined],
    [undefined, undefined],
  ] as const)("%s -> %s", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe("blameUnauthorized: whose fault a grant's 401 is, from GET /v3/grants/{id}", () => {
  const failed = (err: unknown): GrantCheck => ({ failed: classifyError(err, now) });
  const cases: [string, GrantCheck, ReturnType<typeof blameUnauthorized>][] = [
    ["grant_status invalid", { answered: "invalid" }, "grant"],
    ["grant gone (404)", failed(apiError(404, "not_found_error")), "grant"],
    ["the lookup itself refused (401): the API key", failed(apiError(401, "unauthorized")), "api_key"],
    ["grant_status valid: not the grant's fault", { answered: "valid" }, "unconfirmed"],
    ["lookup rate limited", failed(apiError(429, "nylas_rate_limit_exceeded", { "retry-after": "1" })), "unconfirmed"],
    ["lookup 5xx", failed(apiError(503, "service_unavailable")), "unconfirmed"],
    ["lookup timed out", failed(new NylasSdkTimeoutError("https://x/v3/grants/g", 5000)), "unconfirmed"],
    ["lookup without an answer", failed(networkError("ECONNRESET")), "unconfirmed"],
    ["lookup 403", failed(apiError(403, "forbidden")), "unconfirmed"],
    ["lookup 400", failed(apiError(400, "invalid_request_error")), "unconfirmed"],
  ];
  it.each(cases)("%s", (_name, check, blame) => {
    expect(blameUnauthorized(check)).toBe(blame);
  });
});
