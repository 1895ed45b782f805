import type { JobsOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";
import { createQueue } from "../redis/queue-factory.js";
import { RUNS_QUEUE, RUN_JOB_NAME, runJobId, type RunJobData, type RunResult } from "./job.js";

export const TICK_QUEUE = "scheduler";
export const TICK_SCHEDULER_ID = "nightly-tick";
export const TICK_JOB_NAME = "tick";

export interface QueueSettings {
  prefix: string;
  attempts: number;
  /** Where the queue's errors go (throttled); the product always passes one. */
  log?: Logger;
}

export type RunsQueue = Queue<RunJobData, RunResult>;

export function createRunsQueue(connection: Redis, settings: QueueSettings): RunsQueue {
  return createQueue<RunJobData, RunResult>(
    RUNS_QUEUE,
    { connection, prefix: settings.prefix, defaultJobOptions: runJobOptions(settings.attempts) },
    settings.log,
  );
}

export function createTickQueue(connection: Redis, prefix: string, log?: Logger): Queue {
  return createQueue(
    TICK_QUEUE,
    { connection, prefix, defaultJobOptions: { removeOnComplete: 100, removeOnFail: 100 } },
    log,
  );
}

/**
 * Completed jobs stay visible in Bull Board for three days; failed ones for two weeks,
 * where an operator can retry them. Their ids keep blocking duplicates meanwhile.
 */
export function runJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: "jitter" },
    removeOnComplete: { age: 3 * 86_400, count: 200_000 },
    removeOnFail: { age: 14 * 86_400, count: 200_000 },
  };
}

export interface RunToEnqueue {
  grantId: string;
  day: string;
}

/**
 * Adds one job per (grant, day). A job with the same id that is still in Redis makes the
 * add a no-op, which is what keeps overlapping ticks and backfills from doubling a day.
 */
export async function enqueueRuns(
  queue: RunsQueue,
  runs: RunToEnqueue[],
  source: RunJobData["source"],
  chunk = 1000,
): Promise<number> {
  let added = 0;
  for (let i = 0; i < runs.length; i += chunk) {
    const slice = runs.slice(i, i + chunk);
    await queue.addBulk(
      slice.map((r) => ({
        name: RUN_JOB_NAME,
        data: { grantId: r.grantId, day: r.day, source },
        opts: { jobId: runJobId(r.grantId, r.day) },
      })),
    );
    added += slice.length;
  }
  return added;
}

/**
 * Re-queues days whose earlier job ended for good (a 401 before the user re-authenticated,
 * retries exhausted). The old failed job is removed first, since its id would block the add.
 */
export async function reviveRuns(
  queue: RunsQueue,
  runs: RunToEnqueue[],
  source: RunJobData["source"],
): Promise<number> {
  let revived = 0;
  for (const r of runs) {
    const id = runJobId(r.grantId, r.day);
    const state = await queue.getJobState(id);
    if (state === "failed" || state === "completed") await queue.remove(id);
    if (
      state === "active" ||
      state === "waiting" ||
      state === "delayed" ||
      state === "prioritized" ||
      state === "waiting-children"
    )
      continue;
    await queue.add(RUN_JOB_NAME, { grantId: r.grantId, day: r.day, source }, { jobId: id });
    revived++;
  }
  return revived;
}
