import { Writable } from "node:stream";
import { randomInt } from "node:crypto";
import { loadConfig, type Config } from "../../src/config.js";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import type { Db } from "../../src/db/client.js";
import { syncGrants } from "../../src/grants/sync.js";
import { createLogger, type Logger } from "../../src/log/logger.js";
import { NylasApi } from "../../src/nylas/client.js";
import { createRunsQueue, type RunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { startSandbox, type Sandbox, type SandboxOptions } from "nylas-sandbox";
import { compareDeliveries, observedMessage, type DeliveryReport } from "../../harness/deliveries.js";
import { deleteGrants, testPrisma, uniqueId } from "./db.js";

/** Log lines captured per test file, so tests can assert on what the worker said. */
export class LogSink {
  lines: Record<string, unknown>[] = [];
  stream = new Writable({
    write: (chunk, _enc, cb) => {
      for (const line of String(chunk).split("\n")) if (line) this.lines.push(JSON.parse(line));
      cb();
    },
  });
  find(msg: RegExp): Record<string, unknown>[] {
    return this.lines.filter((l) => msg.test(String(l.msg)));
  }
}

export interface Pipeline {
  sandbox: Sandbox;
  db: Db;
  config: Config;
  log: Logger;
  sink: LogSink;
  nylas: NylasApi;
  /** A queue handle of the test's own (the worker app has its own too). */
  queue: RunsQueue;
  startWorker(overrides?: { leaseMs?: number }): Promise<WorkerApp>;
  sync(): Promise<void>;
  /**
   * The sandbox's mailboxes against its expectations, by content (never the ledger), with the
   * sandbox's seed, so a printed report can be replayed.
   */
  check(now: Date, grantIds?: string[]): Promise<DeliveryReport & { seed: number | undefined }>;
  close(): Promise<void>;
}

/**
 * A sandbox with seeded grants, the test database, a queue prefix of the test's own and
 * a config pointing at all three. Grants get a random seed so test files never share ids.
 */
export async function startPipeline(
  opts: { sandbox?: SandboxOptions; env?: Record<string, string> } = {},
): Promise<Pipeline> {
  const seed =
    typeof opts.sandbox?.seed === "object" ? { seed: randomInt(1, 2 ** 31), ...opts.sandbox.seed } : undefined;
  const sandbox = await startSandbox({ ...opts.sandbox, seed: seed ?? opts.sandbox?.seed });
  const db = await testPrisma();
  const prefix = uniqueId("q").replace(/[^A-Za-z0-9_-]/g, "");
  const config = loadConfig({
    NYLAS_API_KEY: sandbox.apiKey,
    NYLAS_API_URI: sandbox.url,
    QUEUE_PREFIX: prefix.slice(0, 40),
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    WORKER_CONCURRENCY: "8",
    NYLAS_TIMEOUT_S: "5",
    ...opts.env,
  });
  const sink = new LogSink();
  const log = createLogger({ level: "debug" }, sink.stream);
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
  });
  const redis = createRedis(config.REDIS_URL);
  const queue = createRunsQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS });
  const apps: WorkerApp[] = [];

  return {
    sandbox,
    db,
    config,
    log,
    sink,
    nylas,
    queue,
    async startWorker(overrides = {}) {
      const app = await startWorkerApp(config, log, { db, scheduler: false, ...overrides });
      apps.push(app);
      return app;
    },
    async sync() {
      await syncGrants(db, nylas, log, {
        defaultTimeZone: config.DEFAULT_TIME_ZONE,
        defaultSendHour: config.DEFAULT_SEND_HOUR,
      });
    },
    async check(now, grantIds) {
      const ids = grantIds ?? sandbox.grantIds();
      const expected = sandbox.expectedReminders({ now, grantIds: ids });
      const observed = sandbox
        .sentMessages()
        .filter((m) => ids.includes(m.grantId))
        .map(observedMessage);
      return { ...compareDeliveries(expected, observed), seed: seed?.seed };
    },
    async close() {
      // The grants go whatever else fails: a tick reads every grant of the shared database,
      // so one left behind would be scanned (and enqueued) by the next file's ticks.
      try {
        for (const app of apps) await app.close(2000);
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
        // Rate-limit keys of this prefix.
        const keys = await redis.keys(`${config.QUEUE_PREFIX}:*`);
        if (keys.length) await redis.del(...keys);
        await redis.quit();
      } finally {
        await deleteGrants(db, sandbox.grantIds());
        await sandbox.close();
      }
    },
  };
}
