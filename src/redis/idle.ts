import type { Queue } from "bullmq";

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  completed: number;
  failed: number;
}

/** Jobs still to run: waiting, active, delayed or prioritized. */
export function pendingOf(c: QueueCounts): number {
  return c.waiting + c.active + c.delayed + c.prioritized;
}

export async function queueCounts(queue: Queue): Promise<QueueCounts> {
  const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed");
  return {
    waiting: c.waiting ?? 0,
    active: c.active ?? 0,
    delayed: c.delayed ?? 0,
    prioritized: c.prioritized ?? 0,
    completed: c.completed ?? 0,
    failed: c.failed ?? 0,
  };
}

/**
 * Resolves once the queue has had nothing left to run for two polls in a row (a job can be
 * between states for an instant); rejects after `timeoutMs` with the counts it saw.
 */
export async function waitForIdle(
  queue: Queue,
  timeoutMs: number,
  onPoll?: (c: QueueCounts) => void,
  pollMs = 200,
): Promise<QueueCounts> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  for (;;) {
    const counts = await queueCounts(queue);
    onPoll?.(counts);
    quiet = pendingOf(counts) === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return counts;
    if (Date.now() > deadline) throw new Error(`queue not idle after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
