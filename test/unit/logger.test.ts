import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, scrubText } from "../../src/log/logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger({ level: "debug" }, stream), lines };
}

describe("logger redaction", () => {
  const secret = "nyk_v0_SECRETVALUE123";
  it.each([
    ["authorization header", { headers: { authorization: `Bearer ${secret}` } }],
    ["Authorization header on a request", { req: { headers: { Authorization: `Bearer ${secret}` } } }],
    ["api key", { apiKey: secret }],
    ["nested api key", { nylas: { apiKey: secret } }],
    ["access token", { access_token: secret }],
    ["webhook secret", { config: { NYLAS_WEBHOOK_SECRET: secret } }],
    ["password", { password: secret }],
    ["token", { oauth: { token: secret } }],
  ])("blanks %s", (_name, obj) => {
    const { logger, lines } = capture();
    logger.info(obj, "hello");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).toContain("[Redacted]");
  });

  it("scrubs bearer tokens and URL passwords from messages and errors", () => {
    const { logger, lines } = capture();
    logger.warn(`request failed with Bearer ${secret}`);
    logger.error({ err: new Error(`connect redis://:${secret}@host:6379 failed`) }, "redis down");
    const out = lines.join("");
    expect(out).not.toContain(secret);
    expect(out).toContain("redis down");
    expect(out).toContain("Bearer [Redacted]");
  });

  it("drops request config from errors", () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error("x"), { config: { headers: { Authorization: `Bearer ${secret}` } } });
    logger.error({ err }, "failed");
    expect(lines.join("")).not.toContain(secret);
  });

  it("keeps ordinary fields", () => {
    const { logger, lines } = capture();
    logger.info({ grantId: "g-1", day: "2026-11-24" }, "done");
    expect(JSON.parse(lines[0]!)).toMatchObject({ grantId: "g-1", day: "2026-11-24", msg: "done" });
  });

  it("scrubText leaves harmless text alone", () => {
    expect(scrubText("no secrets here")).toBe("no secrets here");
    expect(scrubText("postgres://user:pw@host/db")).toBe("postgres://user:[Redacted]@host/db");
  });
});
