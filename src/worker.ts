import type { Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { redisTls, type Config } from "./config.js";
import type { Db } from "./db/client.js";
import type { Logger } from "./log/logger.js";
import { NylasApi } from "./nylas/client.js";
import {
  createRunsQueue,
  createTickQueue,
  TICK_JOB_NAME,
  TICK_QUEUE,
  TICK_SCHEDULER_ID,
  type RunsQueue,
} from "./runs/queue.js";
import { createWorker } from "./redis/queue-factory.js";
import { createRedis } from "./redis/connection.js";
import { BULLMQ_WORKER_METRICS } from "./metrics/bullmq.js";
import { timed, timeFromEvents } from "./metrics/job-timer.js";
import { MetricsRecorder } from "./metrics/recorder.js";
import { backoffWithJitter, GrantLimiter } from "./nylas/grant-limiter.js";
import { ApiKeyWatch, KEY_REFUSED_MARKER } from "./nylas/key-watch.js";
import { Ledger } from "./reminders/ledger.js";
import { isLastAttempt, RUNS_QUEUE, type RunJobData, type RunResult } from "./runs/job.js";
import { RunProcessor } from "./runs/processor.js";
import { unsubscribeSettings } from "./optout/settings.js";
import { schedulerTick, type TickResult } from "./runs/scheduler.js";
import { sweepSettings } from "./runs/sweep.js";
import { RunStore } from "./runs/store.js";
import { WEBHOOKS_QUEUE, type WebhookJobData, type WebhookResult } from "./webhooks/queue.js";
import { startWebhooksWorker, type WebhooksWorkerDeps } from "./webhooks/worker.js";

export interface WorkerApp {
  runsQueue: RunsQueue;
  runsWorker: Worker<RunJobData, RunResult>;
  tickWorker?: Worker;
  /** Consumer of the `webhooks` queue filled by the web dyno's /webhooks/nylas. */
  webhooksWorker?: Worker<WebhookJobData, WebhookResult>;
  processor: RunProcessor;
  /** Pauses the runs queue while Nylas refuses the API key, and resumes it once the key works. */
  keyWatch: ApiKeyWatch;
  /** Counts for /metrics, written to Redis in batches. */
  metrics: MetricsRecorder;
  /** Stops taking jobs, lets active ones finish within `graceMs`, closes connections. */
  close(graceMs?: number): Promise<void>;
}

export interface WorkerAppOptions {
  /** Register the repeating scheduler tick and process it here (default true). */
  scheduler?: boolean;
  /** Tick options for the demo: enqueue every grant regardless of its send hour. */
  ignoreSendHour?: boolean;
  /** Reuse a Prisma client (the demo's embedded PGlite, tests). */
  db: Db;
  /** Ledger lease (ms); defaults to twice the Nylas timeout plus a margin. */
  leaseMs?: number;
  /** Process the webhook notifications queued by the web dyno here (default true). */
  webhooks?: boolean;
}

/** What the worker dyno's parts share: the database, one Redis connection, the /metrics counts, the runs queue. */
interface Shared {
  db: Db;
  connection: Redis;
  metrics: MetricsRecorder;
  runsQueue: RunsQueue;
}

export async function startWorkerApp(config: Config, log: Logger, options: WorkerAppOptions): Promise<WorkerApp> {
  const { db } = options;
  unsubscribeSettings(config); // its ConfigError before anything connects
  const connection = createRedis(config.REDIS_URL, { connectionName: "nr-worker", ...redisTls(config) }, log);
  // The rate limiter's scripts, several per job, on a connection of their own that sends the
  // commands of one turn of the event loop in one write (BullMQ keeps the plain connection).
  const limiterRedis = createRedis(
    config.REDIS_URL,
    { connectionName: "nr-limiter", enableAutoPipelining: true, ...redisTls(config) },
    log,
  );
  const metrics = new MetricsRecorder(connection, config.QUEUE_PREFIX);
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
    onFailure: metrics.nylasFailure,
  });
  const runsQueue = createRunsQueue(connection, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, log });
  const shared: Shared = { db, connection, metrics, runsQueue };
  const keyWatch = startKeyWatch(config, log, shared, nylas);
  const processor = createRunProcessor(config, log, {
    db,
    nylas,
    limiterRedis,
    keyWatch,
    leaseMs: options.leaseMs,
  });

  const runsWorker = startRunsWorker(config, log, shared, processor);
  const scheduler =
    options.scheduler !== false ? await startScheduler(config, log, shared, options.ignoreSendHour) : undefined;
  const webhooksWorker =
    options.webhooks === false
      ? undefined
      : startTimedWebhooksWorker(config, log, metrics, { db, connection, nylas, runsQueue });

  return {
    runsQueue,
    runsWorker,
    tickWorker: scheduler?.worker,
    webhooksWorker,
    processor,
    keyWatch,
    metrics,
    close: (graceMs = 25_000) =>
      shutDown(log, graceMs, {
        keyWatch,
        workers: [runsWorker, scheduler?.worker, webhooksWorker],
        queues: [runsQueue, scheduler?.queue],
        metrics,
        connections: [connection, limiterRedis],
      }),
  };
}

/**
 * The API key watch (src/nylas/key-watch.ts): looks for a key refused by any process, now and
 * every NYLAS_KEY_CHECK_EVERY_MS, and checks this process's key with `GET /v3/grants?limit=1`.
 */
function startKeyWatch(config: Config, log: Logger, { connection, runsQueue }: Shared, nylas: NylasApi): ApiKeyWatch {
  const watch = new ApiKeyWatch(
    { queue: runsQueue, redis: connection, log, checkKey: () => nylas.grantsPage({ limit: 1, offset: 0 }) },
    { everyMs: config.NYLAS_KEY_CHECK_EVERY_MS, markerKey: `${config.QUEUE_PREFIX}:${KEY_REFUSED_MARKER}` },
  );
  watch.start();
  return watch;
}

/**
 * `GET /v3/grants/{id}` is under Nylas' application-wide limit (50 requests/s for grants,
 * auth, connectors and webhooks), not a grant's: the lookups that confirm 401s share one
 * budget of 40/s across every process, under a name no grant id can take.
 */
const APP_GRANTS_BUDGET = "app:grants";

function createRunProcessor(
  config: Config,
  log: Logger,
  deps: { db: Db; nylas: NylasApi; limiterRedis: Redis; keyWatch: ApiKeyWatch; leaseMs?: number },
): RunProcessor {
  const { db } = deps;
  const limiter = createGrantLimiter(config, deps.limiterRedis);
  const appRate = { perSecond: 40, burst: 10 };
  const appBudget = new GrantLimiter(deps.limiterRedis, {
    prefix: config.QUEUE_PREFIX,
    read: appRate,
    send: appRate,
  }).forGrant(APP_GRANTS_BUDGET, { maxWaitMs: 5000 });
  const ledger = new Ledger(db, { leaseMs: deps.leaseMs ?? config.NYLAS_TIMEOUT_S * 2000 + 30_000, maxAttempts: 5 });
  return new RunProcessor({
    db,
    nylas: deps.nylas,
    limiter,
    ledger,
    log,
    settings: {
      includeAllDay: config.INCLUDE_ALL_DAY,
      delivery: config.REMINDER_DELIVERY,
      jobConcurrency: config.JOB_CONCURRENCY,
      inlineWaitMaxMs: 1000,
      maxDelays: 200,
      cancelNotices: config.CANCEL_NOTICES,
      defaultLocale: config.DEFAULT_LOCALE,
      policy: config.REMINDER_POLICY,
      maxRecipients: config.MAX_RECIPIENTS,
      minLeadMinutes: config.MIN_LEAD_MINUTES,
    },
    lookupGrant: (grantId) => appBudget.run("read", () => deps.nylas.grant(grantId)),
    apiKey: deps.keyWatch,
    unsubscribe: unsubscribeSettings(config),
  });
}

function createGrantLimiter(config: Config, connection: Redis): GrantLimiter {
  const sendRate = (perSecond: number) => ({
    perSecond,
    marginMs: config.RATE_SEND_MARGIN_MS,
    serial: config.RATE_SEND_SERIAL,
  });
  return new GrantLimiter(connection, {
    prefix: config.QUEUE_PREFIX,
    read: { perSecond: config.RATE_READS_PER_SEC },
    send: sendRate(config.RATE_SENDS_PER_SEC),
    sendByProvider: {
      google: sendRate(config.RATE_SENDS_PER_SEC_GOOGLE),
      microsoft: sendRate(config.RATE_SENDS_PER_SEC_MICROSOFT),
    },
    // An unanswered send holds its grant's next one at most this long (a process died mid-send).
    inFlightLeaseMs: config.NYLAS_TIMEOUT_S * 1000 + 5000,
  });
}

function startRunsWorker(
  config: Config,
  log: Logger,
  { db, connection, metrics }: Shared,
  processor: RunProcessor,
): Worker<RunJobData, RunResult> {
  // Every attempt is timed for /metrics, including those that end by waiting in the delayed set.
  const processRun = timed<RunJobData, RunResult>(metrics, RUNS_QUEUE, (job, token) => processor.process(job, token));
  const runsWorker = createWorker<RunJobData, RunResult>(
    RUNS_QUEUE,
    processRun,
    {
      connection,
      metrics: BULLMQ_WORKER_METRICS,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      // A dyno restart (or a kill) mid-job makes the job stall; it is safe to run again, so a
      // few stalls must not fail the day.
      maxStalledCount: 10,
      settings: { backoffStrategy: (attemptsMade: number) => backoffWithJitter(attemptsMade, 2000, 300_000) },
    },
    log,
  );
  recordFailedRuns(runsWorker, new RunStore(db), log);
  return runsWorker;
}

/** Logs every failed attempt; a job that failed for good marks its run failed. */
function recordFailedRuns(runsWorker: Worker<RunJobData, RunResult>, runs: RunStore, log: Logger): void {
  runsWorker.on("failed", (job: Job<RunJobData> | undefined, err: Error) => {
    if (!job) return;
    const final = err.name === "UnrecoverableError" || isLastAttempt(job, "failed");
    log.warn(
      { grantId: job.data.grantId, day: job.data.day, jobId: job.id, attemptsMade: job.attemptsMade, final },
      `job failed: ${err.message}`,
    );
    // However the job ended for good (retries spent, stalled too often), its run must not
    // stay "running": the day shows as failed for an operator to retry or backfill.
    if (final) {
      void runs
        .failIfOpen({ grantId: job.data.grantId, day: job.data.day }, err.message)
        .catch((e: unknown) => log.error({ err: e, grantId: job.data.grantId }, "could not record a failed run"));
    }
  });
}

/** The repeating tick: its job scheduler registered in Redis, and the worker that processes it. */
async function startScheduler(
  config: Config,
  log: Logger,
  { db, connection, metrics, runsQueue }: Shared,
  ignoreSendHour: boolean | undefined,
): Promise<{ queue: Queue; worker: Worker }> {
  const queue = createTickQueue(connection, config.QUEUE_PREFIX, log);
  await registerTick(queue, config.SCHEDULER_EVERY_MS);
  connection.on(
    "ready",
    () =>
      void registerTick(queue, config.SCHEDULER_EVERY_MS).catch((err) =>
        log.error({ err }, "could not register the scheduler"),
      ),
  );
  const worker = createWorker(
    TICK_QUEUE,
    timed(metrics, TICK_QUEUE, async (): Promise<TickResult> => {
      const result = await schedulerTick(db, runsQueue, log, {
        pageSize: config.SCHEDULER_PAGE_SIZE,
        ignoreSendHour,
        // Without webhooks, the second sweep catches meetings that changed after the run.
        sweep: sweepSettings(config),
      });
      log.info(result, "scheduler tick");
      await metrics.tick(result).catch((err: unknown) => log.warn({ err }, "could not record the tick for /metrics"));
      return result;
    }),
    { connection, prefix: config.QUEUE_PREFIX, concurrency: 1, metrics: BULLMQ_WORKER_METRICS },
    log,
  );
  return { queue, worker };
}

/**
 * Idempotent: called again whenever Redis comes back, since a Redis that lost its data also
 * lost the scheduler.
 */
async function registerTick(queue: Queue, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    TICK_SCHEDULER_ID,
    { every: everyMs },
    { name: TICK_JOB_NAME, opts: { removeOnComplete: 50, removeOnFail: 50 } },
  );
}

function startTimedWebhooksWorker(
  config: Config,
  log: Logger,
  metrics: MetricsRecorder,
  deps: WebhooksWorkerDeps,
): Worker<WebhookJobData, WebhookResult> {
  const worker = startWebhooksWorker(config, log, deps);
  timeFromEvents(metrics, WEBHOOKS_QUEUE, worker);
  return worker;
}

interface Running {
  keyWatch: ApiKeyWatch;
  workers: (Worker | undefined)[];
  queues: (Queue | undefined)[];
  metrics: MetricsRecorder;
  /** Closed last, once nothing uses them. */
  connections: Redis[];
}

async function shutDown(
  log: Logger,
  graceMs: number,
  { keyWatch, workers, queues, metrics, connections }: Running,
): Promise<void> {
  await keyWatch.stop();
  // Workers stop fetching at once; active jobs get until the deadline to finish.
  const closing = Promise.all(workers.map((w) => w?.close()));
  const timedOut = await Promise.race([
    closing.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
  ]);
  if (timedOut) {
    // Jobs cut off here are stalled and picked up elsewhere; the ledger stops duplicates.
    // close(true) would only return the close already under way, which still waits for
    // the jobs: cut the workers' Redis connections instead, so nothing outlives the bound.
    log.warn({ graceMs }, "active jobs did not finish in time; closing anyway");
    await Promise.all(workers.map((w) => w?.disconnect())).catch(() => {});
  }
  await Promise.all(queues.map((q) => q?.close()));
  await metrics.close();
  await Promise.all(connections.map(quit));
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
