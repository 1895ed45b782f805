import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config/env.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { NylasApi } from "../nylas/client.js";
import type { RunsQueue } from "../queue/queues.js";
import { processWebhook } from "./process.js";
import { WEBHOOKS_QUEUE, type WebhookJobData, type WebhookResult } from "./queue.js";

export interface WebhooksWorkerDeps {
  db: Db;
  connection: Redis;
  nylas: NylasApi;
  runsQueue: RunsQueue;
  now?: () => Date;
}

/** The worker dyno's consumer of the `webhooks` queue (a few at a time; they are small). */
export function startWebhooksWorker(config: Config, log: Logger, deps: WebhooksWorkerDeps): Worker<WebhookJobData, WebhookResult> {
  const wlog = log.child({ queue: WEBHOOKS_QUEUE });
  const worker = new Worker<WebhookJobData, WebhookResult>(
    WEBHOOKS_QUEUE,
    (job) =>
      processWebhook(
        { db: deps.db, nylas: deps.nylas, runsQueue: deps.runsQueue, log: wlog.child({ jobId: job.id }), settings: { defaultTimeZone: config.DEFAULT_TIME_ZONE, defaultSendHour: config.DEFAULT_SEND_HOUR }, now: deps.now },
        job.data,
      ),
    { connection: deps.connection, prefix: config.QUEUE_PREFIX, concurrency: 4 },
  );
  worker.on("failed", (job, err) => {
    if (job) wlog.warn({ grantId: job.data.grantId, notificationId: job.data.id, jobId: job.id, attemptsMade: job.attemptsMade }, `webhook job failed: ${err.message}`);
  });
  worker.on("error", (err) => wlog.error({ err }, "webhooks worker error"));
  return worker;
}
