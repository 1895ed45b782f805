import { Writable } from "node:stream";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { describe, expect, it } from "vitest";
import { createLogger, scrubText } from "../../../src/log/logger.js";

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

  describe("a secret planted in each shape is absent from every line", () => {
    const key = "nyk_v0_PLANTEDKEY0123456789";
    const pw = "pl@nted/pass:word";
    const aggregate = new AggregateError(
      [new Error(`first failed: Bearer ${secret}`), Object.assign(new Error("second"), { apiKey: secret })],
      "all failed",
    );
    const withMeta = Object.assign(new Error("unique constraint"), {
      code: "P2002",
      meta: { target: ["grant_id"], url: `postgres://app:${pw}@db:5432/x`, nested: { password: secret } },
    });
    const withCause = new Error("send failed", { cause: new Error(`socket to redis://:${pw}@h:6379 closed`) });
    const cases: [string, (l: ReturnType<typeof capture>["logger"]) => void][] = [
      [
        "URL password with @ and / in a message",
        (l) => l.error(`cannot connect to postgres://app:${pw}@db.example.com:5432/app`),
      ],
      ["bare Nylas key in message text", (l) => l.warn(`request with ${key} refused`)],
      ["bare Nylas key through printf", (l) => l.warn("request with %s refused", key)],
      [
        "URL in a field other than err",
        (l) => l.info({ target: `redis://default:${pw}@redis.example.com:6379` }, "connecting"),
      ],
      ["URL in an array", (l) => l.info({ urls: ["https://ok.example.com", `postgres://a:${pw}@h/db`] }, "urls")],
      ["AggregateError.errors", (l) => l.error({ err: aggregate }, "batch failed")],
      ["err.meta", (l) => l.error({ err: withMeta }, "write failed")],
      ["error cause", (l) => l.error({ err: withCause }, "failed")],
      ["error as the only argument", (l) => l.error(new Error(`refused: Bearer ${secret}`))],
      ["error in a field other than err", (l) => l.warn({ reason: new Error(`code=${secret}`) }, "callback failed")],
      ["key two levels deep", (l) => l.info({ a: { b: { apiKey: secret } } }, "deep")],
      ["key four levels deep", (l) => l.info({ a: { b: { c: { d: { token: secret } } } } }, "deeper")],
      [
        "client_secret",
        (l) => l.info({ body: { client_secret: secret, grant_type: "authorization_code" } }, "exchange"),
      ],
      ["refresh_token", (l) => l.info({ custom: { settings: { refresh_token: secret } } }, "custom auth")],
      ["code_verifier", (l) => l.info({ pkce: { code_verifier: secret } }, "pkce")],
      ["OAuth code", (l) => l.info({ query: { code: secret, state: "s" } }, "callback")],
      [
        "x-nylas-signature header",
        (l) => l.info({ req: { headers: { "x-nylas-signature": secret, cookie: `s=${secret}` } } }, "delivery"),
      ],
      ["DATABASE_URL and REDIS_URL", (l) => l.info({ env: { DATABASE_URL: secret, REDIS_URL: secret } }, "config")],
      [
        "code= and refresh_token= query parameters",
        (l) => l.info({ url: `https://app/cb?code=${secret}&next=/` }, `GET /cb?refresh_token=${secret}`),
      ],
      ["child bindings", (l) => l.child({ conn: `rediss://:${pw}@h:6380`, ctx: { apiKey: secret } }).info("child")],
    ];
    it.each(cases)("%s", (_name, write) => {
      const { logger, lines } = capture();
      write(logger);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(() => JSON.parse(line)).not.toThrow();
        for (const planted of [secret, key, pw, "PLANTEDKEY", "pass:word", "SECRETVALUE"])
          expect(line).not.toContain(planted);
      }
    });

    it("keeps what helps: error type, code, message and stack frames", () => {
      const { logger, lines } = capture();
      logger.error({ err: withMeta }, "write failed");
      const line = JSON.parse(lines[0]!);
      expect(line.err).toMatchObject({
        type: "Error",
        message: "unique constraint",
        code: "P2002",
        meta: { target: ["grant_id"] },
      });
      expect(line.err.stack).toContain("logger.test.ts");
      const agg = capture();
      agg.logger.error({ err: aggregate }, "batch failed");
      expect(JSON.parse(agg.lines[0]!).err.aggregateErrors).toHaveLength(2);
    });
  });

  it("a fastify 5xx logs the request's method and scrubbed url, and the status", async () => {
    const { logger, lines } = capture();
    const app = Fastify({ loggerInstance: logger as unknown as FastifyBaseLogger });
    app.get("/connect/callback", async () => {
      throw new Error(`exchange failed with client_secret=${secret}`);
    });
    const res = await app.inject({
      method: "GET",
      url: `/connect/callback?state=s&code=${secret}`,
      headers: { cookie: `nr_state=${secret}` },
    });
    await app.close();
    expect(res.statusCode).toBe(500);
    const errored = lines.map((l) => JSON.parse(l)).find((l) => l.level === 50);
    expect(errored).toMatchObject({
      req: { method: "GET", url: "/connect/callback?state=s&code=[Redacted]" },
      res: { statusCode: 500 },
    });
    expect(errored.err.message).toContain("client_secret=[Redacted]");
    expect(lines.join("")).not.toContain(secret);
  });
});
