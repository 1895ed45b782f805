import { createHash } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";
import { createQueue } from "../redis/queue-factory.js";
import { macNotification } from "./job-mac.js";
import type { GrantNotification } from "./notification.js";

/** Slow work behind /webhooks/nylas: one job per notification, processed by the worker dyno. */
export const WEBHOOKS_QUEUE = "webhooks";
export const WEBHOOK_JOB_NAME = "grant-notification";

/**
 * What a webhook job carries: ids, the trigger and the route's MAC over them (see job-mac.ts),
 * never a secret or the raw body.
 */
export type WebhookJobData = GrantNotification & { mac: string };

export interface WebhookResult {
  outcome: "applied" | "duplicate" | "ignored";
  /** What changed, in a few words ("needs_reauth", "valid", "revoked", "upserted"). */
  change?: string;
  reason?: string;
  /** A day whose run was put back in the queue because the send hour has passed. */
  enqueuedDay?: string;
}

export type WebhooksQueue = Queue<WebhookJobData, WebhookResult>;

export function createWebhooksQueue(connection: Redis, prefix: string, log?: Logger): WebhooksQueue {
  return createQueue<WebhookJobData, WebhookResult>(
    WEBHOOKS_QUEUE,
    {
      connection,
      prefix,
      defaultJobOptions: {
        attempts: 10,
        backoff: { type: "exponential", delay: 2000 },
        removeOnComplete: { age: 3 * 86_400, count: 10_000 },
        removeOnFail: { age: 14 * 86_400, count: 10_000 },
      },
    },
    log,
  );
}

const SAFE = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * One job id per notification id, so a delivery repeated while its job is still in Redis adds
 * nothing (BullMQ ids may not contain ':'; odd ids are hashed).
 */
export function webhookJobId(notificationId: string): string {
  return SAFE.test(notificationId)
    ? `wh_${notificationId}`
    : `wh_${createHash("sha256").update(notificationId).digest("hex").slice(0, 40)}`;
}

/** Queues a notification whose signature the route checked, with the MAC the worker verifies. */
export async function enqueueNotification(queue: WebhooksQueue, n: GrantNotification, jobKey: Buffer): Promise<void> {
  await queue.add(WEBHOOK_JOB_NAME, { ...n, mac: macNotification(n, jobKey) }, { jobId: webhookJobId(n.id) });
}
