import { request } from "node:http";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { NylasApi } from "../../src/nylas/client.js";
import { failureKey } from "../../src/web/login-throttle.js";
import { buildWebServer } from "../../src/web/server.js";
import { uniqueId } from "../support/db.js";
import { BOARD_PASSWORD, BOARD_USER, startWebHarness, type WebHarness } from "../e2e/support.js";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const GOOD = basic(BOARD_USER, BOARD_PASSWORD);
const BAD = basic(BOARD_USER, "not the password");
const API = "/admin/queues/api/queues";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request over a real socket to 127.0.0.1:port, with whatever Host the caller says. */
function send(port: number, opts: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: "127.0.0.1", port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Status of a request from `client` (its socket address) with the given Authorization. */
async function statusOf(
  server: FastifyInstance,
  client: string,
  authorization?: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const all = { ...headers, ...(authorization ? { authorization } : {}) };
  return (await server.inject({ url: API, remoteAddress: client, headers: all })).statusCode;
}

const SECURITY_HEADERS = {
  "content-security-policy": "frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
};

describe("operator pages (Bull Board) over real HTTP", () => {
  let h: WebHarness;

  beforeAll(async () => {
    h = await startWebHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  describe("without credentials (development): this machine's browser only", () => {
    let port: number;

    beforeAll(async () => {
      const open = await h.server({ board: {} });
      await open.listen({ port: 0, host: "127.0.0.1" });
      port = (open.server.address() as { port: number }).port;
    });

    it("serves a loopback client that names localhost, 127.0.0.1 or [::1] in Host", async () => {
      const hosts = [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "localhost", `LOCALHOST:${port}`];
      for (const host of hosts) {
        const res = await send(port, { path: API, headers: { host } });
        expect(res.status, host).toBe(200);
        expect(res.headers).toMatchObject(SECURITY_HEADERS);
      }
      // The browser's own same-origin calls (Bull Board's UI) carry a matching Origin.
      const origin = `http://localhost:${port}`;
      const headers = { host: `localhost:${port}`, origin, "sec-fetch-site": "same-origin" };
      expect((await send(port, { path: API, headers })).status).toBe(200);
    });

    it("refuses a DNS-rebinding page (Host evil.example): it cannot read, pause a queue or add a job", async () => {
      const headers = { host: `evil.example:${port}`, "content-type": "application/json" };
      const data = { id: uniqueId("n"), type: "grant.deleted", grantId: "g-victim" };
      const job = { name: "grant-notification", data };
      const attacks: Sent[] = [
        { method: "GET", path: "/admin/queues" },
        { method: "GET", path: API },
        { method: "PUT", path: `${API}/webhooks/pause` },
        { method: "POST", path: `${API}/webhooks/add`, body: JSON.stringify(job) },
      ];
      const before = await h.webhooksQueue.getJobCounts();
      for (const a of attacks) {
        const res = await send(port, { ...a, headers });
        expect(res.status, `${a.method} ${a.path}`).toBe(403);
        expect(res.body).toMatch(/^Forbidden: without BULL_BOARD_USER and BULL_BOARD_PASSWORD the operator pages/);
        expect(res.body).not.toContain("\n");
        expect(res.body).not.toContain("evil.example");
        expect(res.headers).toMatchObject(SECURITY_HEADERS);
      }
      expect(await h.webhooksQueue.isPaused()).toBe(false);
      expect(await h.webhooksQueue.getJobCounts()).toEqual(before);
    });

    it.each([
      ["another site's Origin", { origin: "http://evil.example" }],
      ["another port on localhost", { origin: "http://localhost:1" }],
      ["an opaque Origin", { origin: "null" }],
      ["Sec-Fetch-Site cross-site", { "sec-fetch-site": "cross-site" }],
      ["Sec-Fetch-Site same-site", { "sec-fetch-site": "same-site" }],
    ])("refuses a cross-origin request with a loopback Host: %s", async (_what, headers) => {
      const all = { host: `localhost:${port}`, ...headers };
      const res = await send(port, { method: "PUT", path: `${API}/scheduler/pause`, headers: all });
      expect(res.status).toBe(403);
      const why = /^Forbidden: cross-origin request \((.+)\)$/.exec(res.body)?.[1];
      expect(["Origin does not match Host", "Sec-Fetch-Site is not same-origin"]).toContain(why);
      expect(await h.tickQueue.isPaused()).toBe(false);
    });

    it("refuses a client that is not on this machine, whatever it claims in its headers", async () => {
      const open = await h.server({ board: {} });
      const headers = { host: "localhost", "x-forwarded-for": "127.0.0.1" };
      const res = await open.inject({ url: "/admin/queues", remoteAddress: "203.0.113.9", headers });
      expect(res.statusCode).toBe(403);
      expect(res.headers).toMatchObject(SECURITY_HEADERS);
    });
  });

  describe("with credentials", () => {
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await h.server();
    });

    it("frames, caching and referrers are off on every answer under the guard", async () => {
      const answers = [
        await app.inject({ url: "/admin/queues", headers: { authorization: GOOD } }),
        await app.inject({ url: API, headers: { authorization: GOOD } }),
        await app.inject({ url: "/admin/queues", remoteAddress: "198.51.100.1" }),
        await app.inject({ url: "/admin/queues", remoteAddress: "198.51.100.1", headers: { authorization: BAD } }),
      ];
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 401, 401]);
      // The page's own assets too (whatever @fastify/static would say about caching).
      const asset = /src="(static\/js\/[^"]+)"/.exec(answers[0]!.body)?.[1];
      expect(asset).toBeDefined();
      answers.push(await app.inject({ url: `/admin/queues/${asset}`, headers: { authorization: GOOD } }));
      expect(answers.at(-1)!.statusCode).toBe(200);
      for (const a of answers) expect(a.headers).toMatchObject(SECURITY_HEADERS);
    });

    it("refuses a cross-origin request that would change something, even with the right login", async () => {
      const attack = { authorization: GOOD, host: "nr.example", origin: "https://evil.example" };
      const res = await app.inject({ method: "PUT", url: `${API}/scheduler/pause`, headers: attack });
      expect(res.statusCode).toBe(403);
      expect(await h.tickQueue.isPaused()).toBe(false);
      // Behind TLS-terminating Heroku the Origin is https and the Host the same name.
      const own = { authorization: GOOD, host: "nr.example", origin: "https://nr.example" };
      expect((await app.inject({ url: API, headers: own })).statusCode).toBe(200);
    });

    it("throttles failed logins per client: 429 + Retry-After after 10 a minute; others unaffected", async () => {
      const attacker = "198.51.100.20";
      for (let i = 0; i < 10; i++) expect(await statusOf(app, attacker, BAD), `failure ${i + 1}`).toBe(401);
      // Now even the right password is refused from that address: guessing is over for a while.
      for (const authorization of [BAD, GOOD]) {
        const res = await app.inject({ url: API, remoteAddress: attacker, headers: { authorization } });
        expect(res.statusCode).toBe(429);
        const retryAfter = Number(res.headers["retry-after"]);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
        expect(res.body).toMatch(/^Too many failed logins from this address; try again in \d+ s$/);
        expect(res.headers).toMatchObject(SECURITY_HEADERS);
      }
      // Another client is not affected.
      expect(await statusOf(app, "198.51.100.21", GOOD)).toBe(200);
      // Successful logins never count, however many.
      const operator = "198.51.100.22";
      for (let i = 0; i < 15; i++) expect(await statusOf(app, operator, GOOD)).toBe(200);
      expect(await statusOf(app, operator, BAD)).toBe(401);
      // The browser's first visit without credentials is a prompt, not a failure.
      const visitor = "198.51.100.23";
      for (let i = 0; i < 12; i++) expect(await statusOf(app, visitor)).toBe(401);
      expect(await statusOf(app, visitor, GOOD)).toBe(200);
    });

    it("lets the client in again once its window has passed", async () => {
      const s = await h.server({ operatorLogins: { limit: 2 } });
      const client = "198.51.100.30";
      expect(await statusOf(s, client, BAD)).toBe(401);
      expect(await statusOf(s, client, BAD)).toBe(401);
      const blocked = await s.inject({ url: API, remoteAddress: client, headers: { authorization: GOOD } });
      expect(blocked.statusCode).toBe(429);
      // The block lasts as long as the window's count in Redis, and Retry-After says so.
      const key = failureKey(h.runsQueue.opts.prefix!, client);
      const left = await h.redis.pttl(key);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(60_000);
      expect(Number(blocked.headers["retry-after"])).toBeGreaterThanOrEqual(Math.floor(left / 1000));
      expect(Number(blocked.headers["retry-after"])).toBeLessThanOrEqual(60);
      // The minute passes (the window's key expires): the right login works again.
      await h.redis.pexpire(key, 1);
      const open = async () => expect(await statusOf(s, client, GOOD)).toBe(200);
      await vi.waitFor(open, { timeout: 15_000, interval: 50 });
    });

    it("counts in Redis, so every web dyno sees the same failures", async () => {
      const a = await h.server();
      const b = await h.server();
      const client = "198.51.100.40";
      for (let i = 0; i < 10; i++) expect(await statusOf(i % 2 === 0 ? a : b, client, BAD)).toBe(401);
      for (const dyno of [a, b]) expect(await statusOf(dyno, client, GOOD)).toBe(429);
    });

    it("behind Heroku's router, counts the address the router appended, not what the client wrote", async () => {
      const heroku = await h.server({ trustedProxyHops: 1 });
      const router = "10.1.2.3"; // every client arrives from the router's address
      const via = (forwardedFor: string) => ({ "x-forwarded-for": forwardedFor });
      for (let i = 1; i <= 10; i++) {
        expect(await statusOf(heroku, router, BAD, via(`${i}.${i}.${i}.${i}, 203.0.113.50`))).toBe(401);
      }
      expect(await statusOf(heroku, router, GOOD, via("9.9.9.9, 203.0.113.50"))).toBe(429);
      // Another user behind the same router is not locked out.
      expect(await statusOf(heroku, router, GOOD, via("203.0.113.51"))).toBe(200);
    });

    it("without a trusted proxy, X-Forwarded-For is ignored: rotating it does not escape the count", async () => {
      const client = "198.51.100.60";
      for (let i = 1; i <= 10; i++) await statusOf(app, client, BAD, { "x-forwarded-for": `192.0.2.${i}` });
      expect(await statusOf(app, client, GOOD, { "x-forwarded-for": "192.0.2.200" })).toBe(429);
    });
  });

  it("Fastify's trustProxy is off: req.ip, host and protocol ignore X-Forwarded-*", async () => {
    const s = await buildWebServer({
      db: h.db,
      healthRedis: h.healthRedis,
      nylas: new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url }),
      log: h.log,
      runsQueue: h.runsQueue,
      tickQueue: h.tickQueue,
      webhooksQueue: h.webhooksQueue,
      board: { user: BOARD_USER, password: BOARD_PASSWORD },
      webhooks: {},
      connect: {
        apiKey: "k",
        apiUri: h.sandbox.url,
        sessionSecret: "s".repeat(32),
        redirectUri: "http://localhost/connect/callback",
        defaultTimeZone: "UTC",
        defaultSendHour: 18,
      },
    });
    s.get("/__whoami", async (req) => ({ ip: req.ip, host: req.host, protocol: req.protocol }));
    try {
      const forged = {
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
      };
      const headers = { host: "nr.example", ...forged };
      const res = await s.inject({ url: "/__whoami", remoteAddress: "198.51.100.70", headers });
      expect(res.json()).toEqual({ ip: "198.51.100.70", host: "nr.example", protocol: "http" });
    } finally {
      await s.close();
    }
  });
});
