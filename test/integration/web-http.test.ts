import { createServer, type Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../src/config.js";
import { closePrisma, createPrisma } from "../../src/db/client.js";
import { createRedis } from "../../src/redis/connection.js";
import { checkWebConfig } from "../../src/web/app.js";
import { webhookJobId } from "../../src/webhooks/queue.js";
import { signBody, verifySignature } from "../../src/webhooks/signature.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import {
  BOARD_PASSWORD,
  BOARD_USER,
  startWebHarness,
  testConfig,
  WEBHOOK_SECRET,
  type WebHarness,
} from "../e2e/support.js";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

function notification(type: string, grantId: string, id = uniqueId("n")) {
  return {
    specversion: "1.0",
    type,
    source: "/nylas/passthru",
    id,
    time: Math.floor(Date.now() / 1000),
    webhook_delivery_attempt: 1,
    data: { application_id: "app", object: { grant_id: grantId, provider: "google" } },
  };
}

describe("web dyno over HTTP", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  const grants: string[] = [];

  beforeAll(async () => {
    h = await startWebHarness();
    app = await h.server();
  });
  afterAll(async () => {
    await deleteGrants(h.db, grants);
    await h.close();
  });

  describe("/healthz", () => {
    it("answers 200 when Redis and Postgres answer", async () => {
      const res = await app.inject("/healthz");
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ok: true, redis: "ok", postgres: "ok" });
    });

    it("answers 503 naming Redis when Redis is down", async () => {
      const dead = createRedis("redis://127.0.0.1:1", {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      dead.on("error", () => {});
      const s = await h.server({ healthRedis: dead, healthTimeoutMs: 500 });
      const res = await s.inject("/healthz");
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ ok: false, redis: "unavailable", postgres: "ok" });
      dead.disconnect();
    });

    it("answers 503 saying only that Postgres is unavailable (no host, database, driver text); logs why", async () => {
      // A closed port on a named host, with a database name and password worth hiding.
      const deadDb = await createPrisma("postgresql://postgres:hunter2@localhost:1/nr_private_db_name");
      try {
        const s = await h.server({ db: deadDb, healthTimeoutMs: 5000 });
        const res = await s.inject("/healthz");
        expect(res.statusCode).toBe(503);
        expect(res.body).toBe(JSON.stringify({ ok: false, redis: "ok", postgres: "unavailable" }));
        const leaks = ["localhost", "127.0.0.1", ":1", "nr_private_db_name", "hunter2", "ECONNREFUSED", "Prisma"];
        for (const leak of leaks) {
          expect(res.body, leak).not.toContain(leak);
        }
        // The operator finds the reason in the log, without the password.
        const line = h.sink.find(/^health check: Postgres unavailable$/).at(-1);
        expect(line).toMatchObject({ level: 40, dependency: "postgres" });
        expect(JSON.stringify(line)).not.toContain("hunter2");
      } finally {
        await closePrisma(deadDb).catch(() => {});
      }
    });

    it("answers 503 on its own deadline when Postgres accepts the connection and never answers", async () => {
      // A port that takes connections and never says a word: without the health check's own
      // timeout the request would hang for good, however fast or slow this machine is.
      const held = new Set<Socket>();
      const silent = createServer((socket) => {
        held.add(socket);
        socket.on("error", () => {});
      });
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as { port: number }).port;
      const mute = await createPrisma(`postgresql://postgres:hunter2@127.0.0.1:${port}/nothing`);
      try {
        const s = await h.server({ db: mute, healthTimeoutMs: 300 });
        let hung: NodeJS.Timeout | undefined;
        const res = await Promise.race([
          s.inject("/healthz"),
          new Promise<never>((_, reject) => {
            hung = setTimeout(() => reject(new Error("/healthz never answered")), 20_000);
          }),
        ]).finally(() => clearTimeout(hung));
        expect(res.statusCode).toBe(503);
        // The deadline is what ended it, not a connection error.
        expect(res.json()).toEqual({ ok: false, redis: "ok", postgres: "timeout" });
        // It did reach the silent server (the hang was real, not a refused connection).
        await vi.waitFor(() => expect(held.size).toBeGreaterThan(0), { timeout: 10_000 });
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
        await closePrisma(mute).catch(() => {});
      }
    });
  });

  describe("Bull Board", () => {
    it("asks for credentials", async () => {
      const res = await app.inject("/admin/queues");
      expect(res.statusCode).toBe(401);
      expect(res.headers["www-authenticate"]).toMatch(/^Basic realm="Bull Board"/);
      expect(res.body).toBe("Unauthorized");
    });

    it.each([
      ["wrong password", BOARD_USER, "not the password"],
      ["wrong user", "someone", BOARD_PASSWORD],
      ["empty", "", ""],
      ["password as prefix", BOARD_USER, BOARD_PASSWORD.slice(0, 5)],
    ])("refuses a %s with 401 and nothing else", async (_what, user, password) => {
      for (const url of ["/admin/queues", "/admin/queues/api/queues"]) {
        const res = await app.inject({ url, headers: { authorization: basic(user, password) } });
        expect(res.statusCode).toBe(401);
        expect(res.body).toBe("Unauthorized");
      }
    });

    it("refuses a malformed Authorization header", async () => {
      const res = await app.inject({ url: "/admin/queues", headers: { authorization: "Basic !!!" } });
      expect(res.statusCode).toBe(401);
    });

    it("shows every queue of the project to the operator", async () => {
      const page = await app.inject({
        url: "/admin/queues",
        headers: { authorization: basic(BOARD_USER, BOARD_PASSWORD) },
      });
      expect(page.statusCode).toBe(200);
      expect(page.headers["content-type"]).toMatch(/text\/html/);
      const api = await app.inject({
        url: "/admin/queues/api/queues",
        headers: { authorization: basic(BOARD_USER, BOARD_PASSWORD) },
      });
      expect(api.statusCode).toBe(200);
      const names = (api.json().queues as { name: string }[]).map((q) => q.name).sort();
      expect(names).toEqual(["runs", "scheduler", "webhooks"]);
    });

    it("refuses to start in production without credentials (one line)", () => {
      const cfg = testConfig(h.sandbox, "p", { NODE_ENV: "production", PUBLIC_URL: "https://x.example" });
      const config = { ...cfg, BULL_BOARD_USER: undefined, BULL_BOARD_PASSWORD: undefined };
      expect(() => checkWebConfig(config)).toThrow(ConfigError);
      expect(() => checkWebConfig(config)).toThrow(
        /^Invalid configuration: BULL_BOARD_USER, BULL_BOARD_PASSWORD are required for Bull Board in production$/,
      );
      expect(() => checkWebConfig({ ...cfg, SESSION_SECRET: undefined })).toThrow(
        /SESSION_SECRET is required for \/connect in production/,
      );
      expect(() => checkWebConfig(cfg)).not.toThrow();
    });
  });

  describe("/webhooks/nylas", () => {
    const post = (s: FastifyInstance, body: string | Buffer, headers: Record<string, string> = {}) =>
      s.inject({
        method: "POST",
        url: "/webhooks/nylas",
        payload: body,
        headers: { "content-type": "application/json", ...headers },
      });
    const signed = (s: FastifyInstance, body: string, secret = WEBHOOK_SECRET) =>
      post(s, body, { "x-nylas-signature": signBody(body, secret) });
    const queued = async () =>
      (await h.webhooksQueue.getJobs(["waiting", "delayed", "active", "completed", "failed"])).length;

    it("echoes the challenge as plain text", async () => {
      const res = await app.inject("/webhooks/nylas?challenge=abc-123_%3Cx%3E");
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/plain/);
      expect(res.body).toBe("abc-123_<x>");
      expect((await app.inject("/webhooks/nylas")).statusCode).toBe(400);
    });

    it("refuses forged, missing, stale and tampered signatures before parsing, changing nothing", async () => {
      const before = await queued();
      const body = JSON.stringify(notification("grant.expired", "g-does-not-matter"));
      const cases: [string, Record<string, string>, string | Buffer][] = [
        ["missing", {}, body],
        ["empty", { "x-nylas-signature": "" }, body],
        ["forged", { "x-nylas-signature": "ab".repeat(32) }, body],
        ["stale (an old secret)", { "x-nylas-signature": signBody(body, "whsec_rotated_away") }, body],
        [
          "over another body",
          { "x-nylas-signature": signBody(body, WEBHOOK_SECRET) },
          body.replace("grant.expired", "grant.deleted"),
        ],
        ["truncated", { "x-nylas-signature": signBody(body, WEBHOOK_SECRET).slice(0, 63) }, body],
        ["not hex", { "x-nylas-signature": "zz".repeat(32) }, body],
        [
          "base64 instead of hex",
          { "x-nylas-signature": Buffer.from(signBody(body, WEBHOOK_SECRET), "hex").toString("base64") },
          body,
        ],
        ["unparseable body, no signature", {}, "{not json"],
      ];
      for (const [what, headers, payload] of cases) {
        const res = await post(app, payload, headers);
        expect(res.statusCode, what).toBe(401);
        expect(res.json().error, what).toMatch(/X-Nylas-Signature/);
      }
      expect(await queued()).toBe(before);
    });

    it("verifies over the raw bytes (whitespace and key order matter)", async () => {
      const body = `{ "id": "${uniqueId("n")}",  "type": "grant.expired", "data": {"object": {"grant_id": "g1"}} }`;
      expect(verifySignature(Buffer.from(body), signBody(body, WEBHOOK_SECRET), WEBHOOK_SECRET)).toBe(true);
      expect(
        verifySignature(Buffer.from(JSON.stringify(JSON.parse(body))), signBody(body, WEBHOOK_SECRET), WEBHOOK_SECRET),
      ).toBe(false);
      expect((await signed(app, body)).statusCode).toBe(200);
    });

    it("refuses every delivery when no webhook secret is configured", async () => {
      const s = await h.server({ webhooks: { secret: undefined } });
      const body = JSON.stringify(notification("grant.expired", "g1"));
      const res = await post(s, body, { "x-nylas-signature": signBody(body, WEBHOOK_SECRET) });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toMatch(/NYLAS_WEBHOOK_SECRET is not set/);
    });

    it.each([
      ["not JSON", "{oops", /not valid JSON/],
      ["an array", "[]", /JSON object/],
      [
        "no id",
        JSON.stringify({ type: "grant.expired", data: { object: { grant_id: "g" } } }),
        /^malformed notification: id /,
      ],
      ["no type", JSON.stringify({ id: "x", data: { object: { grant_id: "g" } } }), /type/],
      ["no data", JSON.stringify({ id: "x", type: "grant.expired" }), /data must be an object/],
      ["no grant id", JSON.stringify({ id: "x", type: "grant.expired", data: { object: {} } }), /grant_id/],
      ["an empty body", "", /not valid JSON/],
    ])("answers 400 with one line to a signed body that is %s", async (_what, body, message) => {
      const res = await signed(app, body);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatch(message);
      expect(res.json().error).not.toContain("\n");
    });

    it("refuses bodies over the size limit", async () => {
      const big = JSON.stringify({ ...notification("grant.expired", "g"), pad: "x".repeat(1_200_000) });
      const res = await signed(app, big);
      expect(res.statusCode).toBe(413);
    });

    it("accepts other triggers without queueing them", async () => {
      const before = await queued();
      const res = await signed(
        app,
        JSON.stringify({ id: uniqueId("n"), type: "message.created", data: { object: {} } }),
      );
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: "ignored", type: "message.created" });
      expect(await queued()).toBe(before);
    });

    it("queues a grant notification once, however often it is delivered", async () => {
      const n = notification("grant.expired", "g-replayed");
      const body = JSON.stringify(n);
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await signed(app, body);
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ status: "accepted" });
      }
      const jobs = (await h.webhooksQueue.getJobs(["waiting"])).filter((j) => j.data.id === n.id);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.id).toBe(webhookJobId(n.id));
      // Job data carries ids and the route's MAC only: nothing secret shows in Bull Board.
      const keys = ["attempt", "grantId", "id", "mac", "provider", "time", "type"];
      expect(Object.keys(jobs[0]!.data).sort()).toEqual(keys);
      expect(JSON.stringify(jobs[0]!.data)).not.toContain(h.sandbox.apiKey);
    });

    it("answers 503 when the notification cannot be queued (Nylas retries)", async () => {
      const dead = createRedis("redis://127.0.0.1:1", { retryStrategy: () => 200, lazyConnect: true });
      dead.on("error", () => {});
      const { createWebhooksQueue } = await import("../../src/webhooks/queue.js");
      const q = createWebhooksQueue(dead, "dead");
      q.on("error", () => {});
      const s = await h.server({ webhooksQueue: q, webhooks: { secret: WEBHOOK_SECRET, enqueueTimeoutMs: 300 } });
      const res = await signed(s, JSON.stringify(notification("grant.expired", "g")));
      expect(res.statusCode).toBe(503);
      await s.close();
      await q.close().catch(() => {});
      dead.disconnect();
    });
  });

  describe("pages", () => {
    it("serves a small index and 404s the rest", async () => {
      const index = await app.inject("/");
      expect(index.statusCode).toBe(200);
      expect(index.headers["content-security-policy"]).toContain("default-src 'none'");
      expect((await app.inject("/nope")).statusCode).toBe(404);
    });
  });
});
