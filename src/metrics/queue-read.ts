import type { Job, Queue } from "bullmq";

export const QUEUE_STATES = ["waiting", "active", "delayed", "prioritized", "failed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface QueueSummary {
  name: string;
  counts: Record<QueueState, number>;
  /** Seconds the oldest waiting job has waited; 0 when none waits. */
  oldestWaitingS: number;
}

/**
 * When a job started waiting, as well as its hash tells: BullMQ keeps its creation time,
 * the delay it was added with and when its last attempt started, not when a delayed job was
 * promoted. So the age is exact for a fresh job, and for one that came back from the delayed
 * set it can exceed the truth by its last delay (seconds to a minute for rate limits).
 */
export function waitingSince(job: Pick<Job, "timestamp" | "opts" | "processedOn">): number {
  return Math.max(job.timestamp + (job.opts?.delay ?? 0), job.processedOn ?? 0);
}

/** Counts by state, and the job at the far end of the wait list (the first to have joined it). */
export async function readQueue(queue: Queue, now: number): Promise<QueueSummary> {
  const [c, oldest] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), queue.getJobs(["wait"], 0, 0, true)]);
  const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, c[s] ?? 0])) as Record<QueueState, number>;
  const job = oldest[0];
  return { name: queue.name, counts, oldestWaitingS: job ? Math.max(0, now - waitingSince(job)) / 1000 : 0 };
}
