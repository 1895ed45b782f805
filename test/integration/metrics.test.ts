import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/app/worker-app.js";
import { NylasApi } from "../../src/nylas/client.js";
import { waitForIdle } from "../../src/queue/idle.js";
import { createRunsQueue, createTickQueue } from "../../src/queue/queues.js";
import { createRedis } from "../../src/queue/redis.js";
import { schedulerTick } from "../../src/scheduler/tick.js";
import { closePrisma, createPrisma } from "../../src/db/client.js";
import { buildWebServer, type WebDeps } from "../../src/web/server.js";
import { createWebhooksQueue } from "../../src/webhooks/queue.js";
import { startPipeline, type Pipeline } from "../helpers/pipeline.js";

const USER = "operator";
const PASSWORD = "metrics password";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

interface MetricsWeb {
  url: string;
  server: FastifyInstance;
  scrape(): Promise<Metrics>;
  close(): Promise<void>;
}

/** The web dyno over the pipeline's queues and database, listening on a real port. */
async function startWeb(p: Pipeline, board: { user?: string; password?: string } = { user: USER, password: PASSWORD }, overrides: Partial<WebDeps> = {}): Promise<MetricsWeb> {
  const redis = createRedis(p.config.REDIS_URL);
  const healthRedis = createRedis(p.config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const prefix = p.config.QUEUE_PREFIX;
  const queues = { runsQueue: createRunsQueue(redis, { prefix, attempts: 3 }), tickQueue: createTickQueue(redis, prefix), webhooksQueue: createWebhooksQueue(redis, prefix) };
  const server = await buildWebServer({
    db: p.db,
    healthRedis,
    nylas: new NylasApi({ apiKey: p.config.NYLAS_API_KEY, apiUri: p.config.NYLAS_API_URI }),
    log: p.log,
    ...queues,
    board,
    webhooks: { secret: "whsec_metrics_test" },
    connect: { apiKey: p.config.NYLAS_API_KEY, apiUri: p.config.NYLAS_API_URI, sessionSecret: "s".repeat(32), redirectUri: "http://localhost/connect/callback", defaultTimeZone: "UTC", defaultSendHour: 18 },
    ...overrides,
  });
  const url = await server.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    server,
    async scrape() {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: basic(USER, PASSWORD) } });
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
}

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
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
  get(name: string, labels: Record<string, string> = {}): number {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
  }
}

const now = new Date();
const validGrants = (p: Pipeline) => p.db.grant.findMany({ where: { id: { in: p.sandbox.grantIds() }, status: "valid" }, select: { id: true, provider: true } });

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
    // Queued with no worker running: the gauges see them wait, and their wait grows.
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    const queued = await web.scrape();
    expect(queued.get("nightly_queue_jobs", { queue: "reminders", state: "waiting" })).toBe(grants.length);
    expect(queued.get("nightly_runs", { day: "next", status: "queued" })).toBeGreaterThanOrEqual(grants.length);
    expect(queued.has("nightly_scheduler_last_tick_timestamp_seconds")).toBe(false);
    const firstAge = queued.get("nightly_queue_oldest_waiting_seconds", { queue: "reminders" });
    await vi.waitFor(async () => expect((await web.scrape()).get("nightly_queue_oldest_waiting_seconds", { queue: "reminders" })).toBeGreaterThan(firstAge), { timeout: 10_000, interval: 200 });

    // The real worker, with its scheduler ticking every second.
    app = await startWorkerApp(p.config, p.log, { db: p.db, scheduler: true, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);
    const sent = p.sandbox.sentCount();
    expect(sent).toBeGreaterThan(0);

    await vi.waitFor(
      async () => {
        const m = await web.scrape();
        // Redis counts are this test's own (its queue prefix): exact.
        expect(m.get("nightly_job_duration_seconds_count", { queue: "reminders", outcome: "completed" })).toBe(grants.length);
        expect(m.get("nightly_job_duration_seconds_count", { queue: "scheduler", outcome: "completed" })).toBeGreaterThanOrEqual(1);
        expect(m.get("nightly_scheduler_last_tick_timestamp_seconds")).toBeGreaterThanOrEqual(Math.floor(now.getTime() / 1000));
      },
      { timeout: 15_000, interval: 200 },
    );
    const m = await web.scrape();
    expect(m.get("nightly_job_duration_seconds_bucket", { queue: "reminders", outcome: "completed", le: "+Inf" })).toBe(grants.length);
    expect(m.get("nightly_job_duration_seconds_sum", { queue: "reminders", outcome: "completed" })).toBeGreaterThan(0);
    expect(m.get("nightly_scheduler_seconds_since_last_tick")).toBeGreaterThanOrEqual(0);
    expect(m.has("nightly_scheduler_last_tick_duration_seconds")).toBe(true);
    expect(m.get("nightly_queue_jobs", { queue: "reminders", state: "waiting" })).toBe(0);
    expect(m.get("nightly_queue_jobs", { queue: "reminders", state: "active" })).toBe(0);
    expect(m.get("nightly_queue_oldest_waiting_seconds", { queue: "reminders" })).toBe(0);
    expect(m.get("nightly_nylas_unauthorized_total")).toBe(0);
    // Postgres is shared by the test files of a run: at least this test's rows.
    expect(m.get("nightly_runs", { day: "next", status: "completed" })).toBeGreaterThanOrEqual(grants.length);
    expect(m.get("nightly_reminders", { day: "next", outcome: "sent" })).toBeGreaterThanOrEqual(sent);
    expect(m.get("nightly_grants", { status: "valid", enabled: "true" })).toBeGreaterThanOrEqual(grants.length);
    const ours = await p.db.run.aggregate({ where: { grantId: { in: grants.map((g) => g.id) } }, _sum: { remindersSkipped: true } });
    expect(ours._sum.remindersSkipped).toBeGreaterThan(0);
    expect(m.get("nightly_reminders_skipped", { day: "next" })).toBeGreaterThanOrEqual(ours._sum.remindersSkipped!);
    expect(m.get("nightly_reminders_skipped", { day: "next" })).toBe(m.get("nightly_reminders", { day: "next", outcome: "skipped" }));
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
      const m = await vi.waitFor(
        async () => {
          const res = await dead.server.inject({ url: "/metrics", headers: { authorization: basic(USER, PASSWORD) } });
          expect(res.statusCode).toBe(200);
          const scraped = new Metrics(res.body);
          expect(scraped.get("nightly_metrics_source_up", { source: "redis" })).toBe(1);
          return scraped;
        },
        { timeout: 10_000, interval: 200 },
      );
      expect(m.get("nightly_metrics_source_up", { source: "postgres" })).toBe(0);
      expect(m.has("nightly_runs")).toBe(false);
      expect(m.has("nightly_queue_jobs", { queue: "reminders" })).toBe(true);
    } finally {
      await dead.close();
      await closePrisma(deadDb).catch(() => {});
    }
  });

  it("without credentials configured, serves loopback clients only", async () => {
    const open = await startWeb(p, {});
    try {
      // Refused as the operator guard refuses anyone else (401 or 403), never served.
      expect([401, 403]).toContain((await open.server.inject({ url: "/metrics", remoteAddress: "203.0.113.9" })).statusCode);
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

  // Each 429 the sandbox answered is counted once, under the source that answered it.
  async function storm(limits: { requestsPerSecond?: number; sendsPerSecond?: Record<string, number> }, env: Record<string, string>) {
    p = await startPipeline({ sandbox: { seed: { grants: 4, now }, limits }, env });
    await p.sync();
    web = await startWeb(p);
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 90_000);
    const c = p.sandbox.counters();
    await vi.waitFor(
      async () => {
        const m = await web!.scrape();
        expect(m.get("nightly_nylas_rate_limited_total", { source: "nylas" })).toBe(c.rateLimitedNylas);
        expect(m.get("nightly_nylas_rate_limited_total", { source: "provider" })).toBe(c.rateLimitedProvider);
      },
      { timeout: 15_000, interval: 200 },
    );
    expect((await p.check(now)).ok).toBe(true);
    return { counters: c, metrics: await web!.scrape() };
  }

  it("counts the provider's 429s (rate_limit_error) as such", async () => {
    // The worker tries 10 sends/s per grant; the sandbox's providers take 1/s.
    const { counters, metrics } = await storm({ sendsPerSecond: { microsoft: 1, google: 1, default: 1 } }, { RATE_SENDS_PER_SEC_MICROSOFT: "10", RATE_SENDS_PER_SEC_GOOGLE: "10", RATE_SENDS_PER_SEC: "10" });
    expect(counters.rateLimitedProvider).toBeGreaterThan(0);
    expect(metrics.get("nightly_nylas_rate_limited_total", { source: "provider", call: "send" })).toBe(counters.rateLimitedProvider);
    // Attempts that handed their slot back to wait out a Retry-After.
    expect(metrics.get("nightly_job_duration_seconds_count", { queue: "reminders", outcome: "delayed" })).toBeGreaterThan(0);
  }, 120_000);

  it("counts Nylas' own 429s (nylas_rate_limit_exceeded) as such", async () => {
    // Two requests per second per grant at Nylas (a read and a send); the worker sends faster.
    const { counters } = await storm({ requestsPerSecond: 2, sendsPerSecond: { default: 100, google: 100, microsoft: 100 } }, { RATE_SENDS_PER_SEC_MICROSOFT: "10", RATE_SENDS_PER_SEC_GOOGLE: "10", RATE_SENDS_PER_SEC: "10" });
    expect(counters.rateLimitedNylas).toBeGreaterThan(0);
  }, 120_000);

  it("counts the 401s of a grant invalidated mid-run, and shows it needing re-auth", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 3, now } } });
    await p.sync();
    web = await startWeb(p);
    const victim = (await validGrants(p))[0]!.id;
    const before = await web.scrape();
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await vi.waitFor(() => expect(p!.sandbox.sentMessages({ grantId: victim }).length).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 20 });
    p.sandbox.invalidateGrant(victim);
    await waitForIdle(p.queue, 60_000);
    const unauthorized = p.sandbox.counters().unauthorized;
    expect(unauthorized).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await web!.scrape()).get("nightly_nylas_unauthorized_total")).toBe(unauthorized), { timeout: 15_000, interval: 200 });
    const after = await web.scrape();
    expect(after.get("nightly_nylas_unauthorized_total", { call: "send" })).toBeGreaterThan(0);
    expect(after.get("nightly_grants", { status: "needs_reauth" })).toBeGreaterThan(before.get("nightly_grants", { status: "needs_reauth" }));
    expect(after.get("nightly_runs", { day: "next", status: "needs_reauth" })).toBeGreaterThanOrEqual(1);
    expect(after.get("nightly_job_duration_seconds_count", { queue: "reminders", outcome: "failed" })).toBe(1);
  });
});
