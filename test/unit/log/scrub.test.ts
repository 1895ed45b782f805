import { UnrecoverableError } from "bullmq";
import { describe, expect, it } from "vitest";
import { isSecretKey, REDACTED, scrubError, scrubText, scrubValue } from "../../../src/log/scrub.js";

const SECRET = "S3cr3tV4lue";

describe("scrubText", () => {
  it.each([
    ["bearer token", `GET /v3/grants failed: Authorization: Bearer nyk_v0_${SECRET}`],
    ["bearer token, lower case", `bearer ${SECRET}`],
    ["basic credentials", `Authorization: Basic ${Buffer.from(`op:${SECRET}`).toString("base64")}`],
    ["bare Nylas key in text", `key nyk_v0_${SECRET} was refused`],
    ["URL password", `connect redis://:${SECRET}@redis.example.com:6379 failed`],
    ["URL password with @", `postgres://app:pa@ss${SECRET}@db.example.com:5432/app`],
    ["URL password with /", `postgres://app:pa/ss${SECRET}@db.example.com:5432/app`],
    ["URL password with : @ and /", `rediss://h:a:b@c/d${SECRET}@ec2.example.com:6380`],
    ["code parameter", `GET /connect/callback?state=abc&code=${SECRET}&x=1`],
    ["refresh_token parameter", `grant_type=refresh_token&refresh_token=${SECRET}`],
    ["code_verifier and client_secret in a form", `code_verifier=${SECRET}&client_secret=${SECRET}x`],
    ["JSON field", `token exchange failed: {"access_token":"${SECRET}","refresh_token":"a\\"${SECRET}"}`],
  ])("blanks a %s", (_name, text) => {
    const out = scrubText(text);
    expect(out).not.toContain(SECRET);
    expect(out).toContain(REDACTED);
  });

  it("keeps what is not secret", () => {
    for (const text of [
      "no secrets here",
      "run completed in 812 ms",
      "https://api.us.nylas.com/v3/grants/abc/events?calendar_id=primary&page_token=xyz",
      "mailto a@b.com, https://host/users/a@b.com",
      "request_id=req-123 status=503",
    ]) {
      expect(scrubText(text)).toBe(text);
    }
    expect(scrubText("postgres://user:pw@host/db")).toBe(`postgres://user:${REDACTED}@host/db`);
    expect(scrubText(`postgres://app:p@ss/w:rd@db.example.com:5432/app`)).toBe(
      `postgres://app:${REDACTED}@db.example.com:5432/app`,
    );
  });
});

describe("isSecretKey", () => {
  it.each([
    "apiKey",
    "api_key",
    "Authorization",
    "cookie",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "password",
    "secret",
    "client_secret",
    "clientSecret",
    "code_verifier",
    "x-nylas-signature",
    "DATABASE_URL",
    "REDIS_URL",
    "NYLAS_API_KEY",
    "webhookSecret",
    "SESSION_SECRET",
  ])("%s is secret", (key) => expect(isSecretKey(key)).toBe(true));
  it.each(["grantId", "day", "jobId", "eventId", "status", "sent", "tokensLeft", "url", "message"])(
    "%s is not",
    (key) => expect(isSecretKey(key)).toBe(false),
  );
});

describe("scrubValue", () => {
  it("blanks secret keys at any depth, in arrays too, and scrubs every string", () => {
    const out = JSON.stringify(
      scrubValue({
        a: { b: { c: { refresh_token: SECRET } } },
        list: [{ client_secret: SECRET }, `Bearer ${SECRET}`],
        url: `https://u:${SECRET}@host/x`,
        oauth: { code: SECRET, code_verifier: SECRET },
      }),
    );
    expect(out).not.toContain(SECRET);
  });

  it("keeps error codes, numbers and ordinary fields", () => {
    expect(
      scrubValue({
        code: "ECONNREFUSED",
        err: { code: "P2002" },
        n: 3,
        ok: true,
        none: null,
        kind: { code: "timeout" },
      }),
    ).toEqual({
      code: "ECONNREFUSED",
      err: { code: "P2002" },
      n: 3,
      ok: true,
      none: null,
      kind: { code: "timeout" },
    });
  });

  it("survives cycles and depth", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    expect(scrubValue(a)).toEqual({ name: "a", self: "[Circular]" });
    let deep: Record<string, unknown> = { password: SECRET };
    for (let i = 0; i < 20; i++) deep = { deep };
    expect(JSON.stringify(scrubValue(deep))).not.toContain(SECRET);
  });
});

describe("scrubError", () => {
  it("keeps the class and name, scrubs message and stack", () => {
    const err = new UnrecoverableError(`grant needs re-authentication: Bearer ${SECRET}`);
    const out = scrubError(err);
    expect(out).toBeInstanceOf(UnrecoverableError);
    expect(out.name).toBe("UnrecoverableError");
    expect(out.message).not.toContain(SECRET);
    expect(out.stack).not.toContain(SECRET);
    expect(out.stack).toContain("grant needs re-authentication");
    expect(err.message).toContain(SECRET); // the original is left as it was
  });

  it("returns a clean error and non-errors unchanged", () => {
    const clean = new Error("transient 503");
    expect(scrubError(clean)).toBe(clean);
    expect(scrubError("text")).toBe("text");
  });
});
