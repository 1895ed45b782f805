import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runDemo } from "../../src/demo/nightly-demo.js";
import { loadConfig } from "../../src/config/env.js";
import { createLogger } from "../../src/log/logger.js";
import { waitForIdle } from "../../src/queue/idle.js";
import { createRedis } from "../../src/queue/redis.js";
import { deleteGrants, testDatabaseUrl, testPrisma, uniqueId } from "../helpers/db.js";
import { LogSink, startPipeline, type Pipeline } from "../helpers/pipeline.js";
import { WorkerFleet } from "../harness/fleet.js";

// The worker dyno as Heroku runs it: `jobs/worker.ts` in a process of its own, scheduling
// through its BullMQ job scheduler (no clock process), stopped with SIGTERM.
describe("worker process", () => {
  let p: Pipeline;
  let fleet: WorkerFleet;
  const logDir = mkdtempSync(join(tmpdir(), "worker-proc-"));
  const now = new Date();

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 4, now } } });
    await p.sync();
    // Due at any hour of the local day, so the process's own tick picks every grant up.
    await p.db.grant.updateMany({ where: { id: { in: p.sandbox.grantIds() } }, data: { sendHour: 0 } });
    fleet = new WorkerFleet({
      count: 1,
      logDir,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        REDIS_URL: p.config.REDIS_URL,
        NYLAS_API_KEY: p.sandbox.apiKey,
        NYLAS_API_URI: p.sandbox.url,
        QUEUE_PREFIX: p.config.QUEUE_PREFIX,
        SCHEDULER_EVERY_MS: "1000",
      },
    });
  });
  afterAll(async () => {
    await fleet.stopAll(5000);
    await p.close();
  });

  it("schedules and sends tomorrow's reminders on its own, then stops cleanly on SIGTERM", async () => {
    const valid = await p.db.grant.count({ where: { id: { in: p.sandbox.grantIds() }, status: "valid" } });
    fleet.startAll();
    await vi.waitFor(async () => expect(await p.db.run.count({ where: { grantId: { in: p.sandbox.grantIds() }, status: "completed" } })).toBe(valid), { timeout: 60_000, interval: 250 });
    await waitForIdle(p.queue, 30_000);
    expect((await p.check(now)).ok).toBe(true);

    const started = Date.now();
    await fleet.stopAll(20_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    const lines = readdirSync(logDir).flatMap((f) => readFileSync(join(logDir, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)));
    expect(lines.some((l) => l.msg === "scheduler tick" && l.enqueued === valid)).toBe(true);
    expect(lines.filter((l) => l.msg === "run completed")).toHaveLength(valid);
    // The last thing the process logged (by time: its stdout and stderr share the file).
    const stopped = lines.find((l) => l.msg === "worker stopped");
    expect(stopped).toBeDefined();
    expect(lines.every((l) => l.time <= stopped.time)).toBe(true);
    // Nothing secret reaches the log.
    expect(lines.map((l) => JSON.stringify(l)).join("\n")).not.toContain(p.sandbox.apiKey);
  });

  it.each([
    [{ WORKER_CONCURRENCY: "lots" }, /^worker: Invalid configuration: WORKER_CONCURRENCY must be a whole number$/],
    [{ NYLAS_API_KEY: "" }, /^worker: Invalid configuration: NYLAS_API_KEY is required$/],
    [{ DATABASE_URL: "" }, /^worker: Invalid configuration: DATABASE_URL is required for the worker$/],
    [{ REDIS_URL: "localhost:6379" }, /^worker: Invalid configuration: REDIS_URL must be a URL \(redis or rediss\)$/],
  ])("refuses bad configuration %j with one line and exit code 2", (bad, message) => {
    const env = { PATH: process.env.PATH ?? "", DATABASE_URL: testDatabaseUrl(), NYLAS_API_KEY: "nyk_secret_abc", ...bad };
    const res = spawnSync(process.execPath, ["--import", "tsx", "jobs/worker.ts"], { env, encoding: "utf8", timeout: 30_000 });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr.trim()).toMatch(message);
    expect(res.stderr).not.toContain("nyk_secret_abc");
  });
});

describe("the demo batch", () => {
  it("runs end to end on Postgres and finds every expected reminder sent once", async () => {
    const sink = new LogSink();
    const config = loadConfig({ NYLAS_API_KEY: "unused", DATABASE_URL: testDatabaseUrl(), QUEUE_PREFIX: uniqueId("demo").slice(0, 40), REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
    const summary = await runDemo(config, createLogger({ level: "warn" }, sink.stream), { grants: 10, expireDuringRun: 1, timeoutMs: 90_000 });
    expect(summary.report.ok).toBe(true);
    expect(summary.report.expected).toBeGreaterThan(40);
    expect(summary.sent).toBe(summary.report.expected);
    expect(summary.runs).toMatchObject({ completed: summary.tick.enqueued - 1, needs_reauth: 1 });
    expect(summary.needsReauth.length).toBe(summary.sync.needsReauth + 1);
    expect(summary.database).toBe("postgres");
    await deleteGrants(await testPrisma(), summary.needsReauth);
    // The demo leaves its queue for Bull Board to show; a test cleans up after itself.
    const redis = createRedis(config.REDIS_URL);
    const keys = await redis.keys(`${config.QUEUE_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
});
