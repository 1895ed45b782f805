import { BULLMQ_WORKER_METRICS } from "../metrics/bullmq.js";
import { UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { AroundRequest, NylasApi } from "../nylas/client.js";
import { GrantLimiter } from "../nylas/grant-limiter.js";
import { createWorker } from "../redis/queue-factory.js";
import type { RunsQueue } from "../runs/queue.js";
import { verifiedNotification, webhookJobKey } from "./job-mac.js";
import { processWebhook } from "./process.js";
import { WEBHOOKS_QUEUE, type WebhookJobData, type WebhookResult } from "./queue.js";

export interface WebhooksWorkerDeps {
  db: Db;
  connection: Redis;
  nylas: NylasApi;
  runsQueue: RunsQueue;
  now?: () => Date;
}

export const UNSIGNED_JOB = "not queued by the signed webhook route (no valid MAC); nothing applied";

/**
 * The worker dyno's consumer of the `webhooks` queue (a few at a time; they are small). Only
 * jobs the signed route queued are applied: anything else in the queue (added through Bull
 * Board or straight into Redis) fails at once, without retries, with one warning line.
 */
export function startWebhooksWorker(
  config: Config,
  log: Logger,
  deps: WebhooksWorkerDeps,
): Worker<WebhookJobData, WebhookResult> {
  const wlog = log.child({ queue: WEBHOOKS_QUEUE });
  const key = webhookJobKey(config.NYLAS_API_KEY);
  // The zone inference reads a grant's events: under the same read budget as its runs.
  const reads = new GrantLimiter(deps.connection, {
    prefix: config.QUEUE_PREFIX,
    read: { perSecond: config.RATE_READS_PER_SEC },
    send: { perSecond: config.RATE_SENDS_PER_SEC },
  });
  const readAround =
    (grantId: string): AroundRequest =>
    (request) =>
      reads.run(grantId, "read", request, { maxWaitMs: 5000 });
  const settings = {
    defaultTimeZone: config.DEFAULT_TIME_ZONE,
    defaultSendHour: config.DEFAULT_SEND_HOUR,
    readAround,
  };
  const worker = createWorker<WebhookJobData, WebhookResult>(
    WEBHOOKS_QUEUE,
    async (job) => {
      const n = verifiedNotification(job.data, key);
      if (!n) throw new UnrecoverableError(UNSIGNED_JOB);
      const { db, nylas, runsQueue, now } = deps;
      const jlog = wlog.child({ jobId: job.id });
      const rerunDebounceMs = config.RERUN_DEBOUNCE_MS;
      return processWebhook({ db, nylas, runsQueue, log: jlog, settings, now, rerunDebounceMs }, n);
    },
    { connection: deps.connection, prefix: config.QUEUE_PREFIX, concurrency: 4, metrics: BULLMQ_WORKER_METRICS },
    wlog,
  );
  worker.on("failed", (job, err) => {
    if (!job) return;
    // An unsigned job's data is whoever wrote it: only its job id goes to the log.
    if (err.message === UNSIGNED_JOB) return wlog.warn({ jobId: job.id }, `webhook job refused: ${UNSIGNED_JOB}`);
    const { grantId, id: notificationId } = job.data;
    wlog.warn(
      { grantId, notificationId, jobId: job.id, attemptsMade: job.attemptsMade },
      `webhook job failed: ${err.message}`,
    );
  });
  return worker;
}
