import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import { closePrisma, createPrisma } from "../../src/db/client.js";
import { NylasApi } from "../../src/nylas/client.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { createRunsQueue, createTickQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { buildWebServer, type WebDeps } from "../../src/web/server.js";
import { createWebhooksQueue } from "../../src/webhooks/queue.js";
import { GRANT_CAN_RUN_WHERE } from "../../src/grants/status.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// /metrics over real HTTP, against what the real worker did with the sandbox, Redis and Postgres.

const USER = "operator";
const PASSWORD = "metrics password";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const AUTH = { authorization: basic(USER, PASSWORD) };
const WAIT = { timeout: 15_000, interval: 200 };

/** Prometheus text, read back: the sum of the samples of `name` whose labels include `labels`. */
class Metrics {
  readonly samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  constructor(readonly text: string) {
    for (const line of text.split("\n")) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
      this.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }
  private matching(name: string, labels: Record<string, string>) {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.matching(name, labels).length > 0;
  }
  get(name: string, labels: Record<string, string> = {}): number {
    return this.matching(name, labels).reduce((a, s) => a + s.value, 0);
  }
}

interface MetricsWeb {
  url: string;
  server: FastifyInstance;
  scrape(): Promise<Metrics>;
  close(): Promise<void>;
}

type Board = { user?: string; password?: string };

/** The web dyno over the pipeline's queues and database, listening on a real port. */
const OPERATOR: Board = { user: USER, password: PASSWORD };

async function startWeb(p: Pipeline, board: Board = OPERATOR, overrides: Partial<WebDeps> = {}) {
  const { REDIS_URL, QUEUE_PREFIX: prefix, NYLAS_API_KEY: apiKey, NYLAS_API_URI: apiUri } = p.config;
  const redis = createRedis(REDIS_URL);
  const healthRedis = createRedis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const queues = {
    runsQueue: createRunsQueue(redis, { prefix, attempts: 3 }),
    tickQueue: createTickQueue(redis, prefix),
    webhooksQueue: createWebhooksQueue(redis, prefix),
  };
  const connect = {
    apiKey,
    apiUri,
    sessionSecret: "s".repeat(32),
    redirectUri: "http://localhost/connect/callback",
    defaultTimeZone: "UTC",
    defaultSendHour: 18,
  };
  const webhooks = { secret: "whsec_metrics_test" };
  const nylas = new NylasApi({ apiKey, apiUri });
  const deps = { db: p.db, healthRedis, nylas, log: p.log, ...queues, board, webhooks, connect };
  const server = await buildWebServer({ ...deps, ...overrides });
  const url = await server.listen({ port: 0, host: "127.0.0.1" });
  const web: MetricsWeb = {
    url,
    server,
    async scrape() {
      const res = await fetch(`${url}/metrics`, { headers: AUTH });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      return new Metrics(await res.text());
    },
    async close() {
      await server.close();
      for (const q of Object.values(queues)) await q.close();
      await redis.quit();
      await healthRedis.quit();
    },
  };
  return web;
}

const now = new Date();
const validGrants = (p: Pipeline) =>
  p.db.grant.findMany({ where: { id: { in: p.sandbox.grantIds() }, ...GRANT_CAN_RUN_WHERE }, select: { id: true } });

describe("GET /metrics after a nightly batch", () => {
  let p: Pipeline;
  let web: MetricsWeb;
  let app: WorkerApp | undefined;

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 8, now } }, env: { SCHEDULER_EVERY_MS: "1000" } });
    await p.sync();
    web = await startWeb(p);
  });
  afterAll(async () => {
    await app?.close(2000);
    await web?.close();
    await p?.close();
  });

  it("asks for the operator credentials", async () => {
    for (const authorization of [undefined, basic(USER, "wrong"), basic("someone", PASSWORD)]) {
      const res = await fetch(`${web.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="Metrics"/);
      expect(await res.text()).toBe("Unauthorized");
    }
  });

  it("shows queued jobs waiting, then the batch the real worker ran", async () => {
    const grants = await validGrants(p);
    const reminders = { queue: "runs", outcome: "completed" };
    // Queued with no worker running: the gauges see them wait, and their wait grows.
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    const queued = await web.scrape();
    expect(queued.get("nightly_queue_jobs", { queue: "runs", state: "waiting" })).toBe(grants.length);
    expect(queued.get("nightly_runs", { day: "next", status: "queued" })).toBeGreaterThanOrEqual(grants.length);
    expect(queued.has("nightly_scheduler_last_tick_timestamp_seconds")).toBe(false);
    const age = (m: Metrics) => m.get("nightly_queue_oldest_waiting_seconds", { queue: "runs" });
    const firstAge = age(queued);
    await vi.waitFor(async () => expect(age(await web.scrape())).toBeGreaterThan(firstAge), WAIT);

    // The real worker, with its scheduler ticking every second.
    app = await startWorkerApp(p.config, p.log, { db: p.db, scheduler: true, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);
    const sent = p.sandbox.sentCount();
    expect(sent).toBeGreaterThan(0);

    await vi.waitFor(async () => {
      const m = await web.scrape();
      // Redis counts are this test's own (its queue prefix): exact.
      expect(m.get("nightly_job_duration_seconds_count", reminders)).toBe(grants.length);
      const ticks = m.get("nightly_job_duration_seconds_count", { queue: "scheduler", outcome: "completed" });
      expect(ticks).toBeGreaterThan(0);
      const lastTick = m.get("nightly_scheduler_last_tick_timestamp_seconds");
      expect(lastTick).toBeGreaterThanOrEqual(Math.floor(now.getTime() / 1000));
    }, WAIT);
    const m = await web.scrape();
    expect(m.get("nightly_job_duration_seconds_bucket", { ...reminders, le: "+Inf" })).toBe(grants.length);
    expect(m.get("nightly_job_duration_seconds_sum", reminders)).toBeGreaterThan(0);
    expect(m.get("nightly_scheduler_seconds_since_last_tick")).toBeGreaterThanOrEqual(0);
    expect(m.has("nightly_scheduler_last_tick_duration_seconds")).toBe(true);
    expect(m.get("nightly_queue_jobs", { queue: "runs", state: "waiting" })).toBe(0);
    expect(m.get("nightly_queue_jobs", { queue: "runs", state: "active" })).toBe(0);
    expect(age(m)).toBe(0);
    expect(m.get("nightly_nylas_unauthorized_total")).toBe(0);

    // Postgres is shared by the test files of a run: at least this test's rows.
    const next = (outcome: string) => m.get("nightly_reminders", { day: "next", outcome });
    expect(m.get("nightly_runs", { day: "next", status: "completed" })).toBeGreaterThanOrEqual(grants.length);
    expect(next("sent")).toBeGreaterThanOrEqual(sent);
    expect(m.get("nightly_grants", { status: "valid", enabled: "true" })).toBeGreaterThanOrEqual(grants.length);
    const where = { grantId: { in: grants.map((g) => g.id) } };
    const ours = await p.db.run.aggregate({ where, _sum: { remindersSkipped: true } });
    expect(ours._sum.remindersSkipped).toBeGreaterThan(0);
    expect(m.get("nightly_reminders_skipped", { day: "next" })).toBeGreaterThanOrEqual(ours._sum.remindersSkipped!);
    expect(m.get("nightly_reminders_skipped", { day: "next" })).toBe(next("skipped"));
    expect(m.get("nightly_metrics_source_up", { source: "postgres" })).toBe(1);
    expect(m.get("nightly_metrics_source_up", { source: "redis" })).toBe(1);
    // No label carries a grant id.
    for (const g of grants) expect(m.text).not.toContain(g.id);
  });

  it("leaves out the metrics of a source that is down, and says so", async () => {
    const deadDb = await createPrisma("postgresql://postgres@127.0.0.1:1/nothing");
    const dead = await startWeb(p, undefined, { db: deadDb });
    try {
      // Its Redis connection fails fast until it has connected: wait for it.
      const m = await vi.waitFor(async () => {
        const res = await dead.server.inject({ url: "/metrics", headers: AUTH });
        expect(res.statusCode).toBe(200);
        const scraped = new Metrics(res.body);
        expect(scraped.get("nightly_metrics_source_up", { source: "redis" })).toBe(1);
        return scraped;
      }, WAIT);
      expect(m.get("nightly_metrics_source_up", { source: "postgres" })).toBe(0);
      expect(m.has("nightly_runs")).toBe(false);
      expect(m.has("nightly_queue_jobs", { queue: "runs" })).toBe(true);
    } finally {
      await dead.close();
      await closePrisma(deadDb).catch(() => {});
    }
  });

  it("without credentials configured, serves loopback clients only", async () => {
    const open = await startWeb(p, {});
    try {
      // Refused as the operator guard refuses anyone else (401 or 403), never served.
      const remote = await open.server.inject({ url: "/metrics", remoteAddress: "203.0.113.9" });
      expect([401, 403]).toContain(remote.statusCode);
      const res = await fetch(`${open.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("nightly_queue_jobs");
    } finally {
      await open.close();
    }
  });
});

describe("GET /metrics under faults", () => {
  let p: Pipeline | undefined;
  let web: MetricsWeb | undefined;
  afterEach(async () => {
    await web?.close();
    await p?.close();
    web = p = undefined;
  });

  // The worker tries 10 sends/s per grant, whatever the provider.
  const FAST = { RATE_SENDS_PER_SEC_MICROSOFT: "10", RATE_SENDS_PER_SEC_GOOGLE: "10", RATE_SENDS_PER_SEC: "10" };
  type Limits = { requestsPerSecond?: number; sendsPerSecond?: Record<string, number> };

  // Each 429 the sandbox answered is counted once, under the source that answered it.
  async function storm(limits: Limits) {
    p = await startPipeline({ sandbox: { seed: { grants: 4, now }, limits }, env: FAST });
    await p.sync();
    web = await startWeb(p);
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 90_000);
    const c = p.sandbox.counters();
    await vi.waitFor(async () => {
      const m = await web!.scrape();
      expect(m.get("nightly_nylas_rate_limited_total", { source: "nylas" })).toBe(c.rateLimitedNylas);
      expect(m.get("nightly_nylas_rate_limited_total", { source: "provider" })).toBe(c.rateLimitedProvider);
    }, WAIT);
    expect((await p.check(now)).ok).toBe(true);
    return { counters: c, metrics: await web!.scrape() };
  }

  it("counts the provider's 429s (rate_limit_error) as such", async () => {
    // The sandbox's providers take 1 send/s per mailbox.
    const { counters, metrics } = await storm({ sendsPerSecond: { microsoft: 1, google: 1, default: 1 } });
    expect(counters.rateLimitedProvider).toBeGreaterThan(0);
    const sends = metrics.get("nightly_nylas_rate_limited_total", { source: "provider", call: "send" });
    expect(sends).toBe(counters.rateLimitedProvider);
    // Attempts that handed their slot back to wait out a Retry-After.
    const delayed = metrics.get("nightly_job_duration_seconds_count", { queue: "runs", outcome: "delayed" });
    expect(delayed).toBeGreaterThan(0);
  }, 120_000);

  it("counts Nylas' own 429s (nylas_rate_limit_exceeded) as such", async () => {
    // Nylas takes two requests per second per grant (a read and a send); providers take all.
    const providers = { default: 100, google: 100, microsoft: 100 };
    const { counters } = await storm({ requestsPerSecond: 2, sendsPerSecond: providers });
    expect(counters.rateLimitedNylas).toBeGreaterThan(0);
  }, 120_000);

  it("counts the 401s of a grant invalidated mid-run, and shows it needing re-auth", async () => {
    const pl = (p = await startPipeline({ sandbox: { seed: { grants: 3, now } } }));
    await pl.sync();
    const w = (web = await startWeb(pl));
    const victim = (await validGrants(pl))[0]!.id;
    const before = await w.scrape();
    await pl.startWorker();
    await schedulerTick(pl.db, pl.queue, pl.log, { now, pageSize: 100, ignoreSendHour: true });
    const sentByVictim = () => pl.sandbox.sentMessages({ grantId: victim }).length;
    await vi.waitFor(() => expect(sentByVictim()).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 20 });
    pl.sandbox.invalidateGrant(victim);
    await waitForIdle(pl.queue, 60_000);
    const unauthorized = pl.sandbox.counters().unauthorized;
    expect(unauthorized).toBeGreaterThan(0);
    const counted = async () => (await w.scrape()).get("nightly_nylas_unauthorized_total");
    await vi.waitFor(async () => expect(await counted()).toBe(unauthorized), WAIT);

    const after = await w.scrape();
    const reauth = (m: Metrics) => m.get("nightly_grants", { status: "needs_reauth" });
    expect(after.get("nightly_nylas_unauthorized_total", { call: "send" })).toBeGreaterThan(0);
    expect(reauth(after)).toBeGreaterThan(reauth(before));
    expect(after.get("nightly_runs", { day: "next", status: "needs_reauth" })).toBeGreaterThanOrEqual(1);
    const failed = after.get("nightly_job_duration_seconds_count", { queue: "runs", outcome: "failed" });
    expect(failed).toBe(1);
  });
});
