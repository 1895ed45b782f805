import type { Job, JobState, Queue } from "bullmq";
import { expect, vi } from "vitest";

/**
 * Waits until a job is in one of `states` (default: done, either way), then reads it. The
 * state comes first: a job read before it settled lacks its result or its failure, even when a
 * state read after it says done.
 */
export async function settledJob<Data = unknown, Result = unknown>(
  queue: Queue,
  id: string,
  opts: { states?: JobState[]; timeout?: number; interval?: number } = {},
): Promise<{ job: Job<Data, Result>; state: JobState }> {
  const states = opts.states ?? ["completed", "failed"];
  const state = await vi.waitFor(
    async () => {
      const now = await queue.getJobState(id);
      expect(states, `job ${id} is ${now}`).toContain(now);
      return now as JobState;
    },
    { timeout: opts.timeout ?? 20_000, interval: opts.interval ?? 50 },
  );
  const job = (await queue.getJob(id)) as Job<Data, Result> | undefined;
  if (!job) throw new Error(`job ${id} was ${state}, then gone`);
  return { job, state };
}

/** A job's result once it completed; a job that failed fails the caller with its reason. */
export async function jobResult<Result>(
  queue: Queue,
  id: string,
  opts: { timeout?: number; interval?: number } = {},
): Promise<Result> {
  const { job, state } = await settledJob<unknown, Result>(queue, id, opts);
  if (state === "failed") throw new Error(`job ${id} failed: ${job.failedReason}`);
  return job.returnvalue;
}
