import type { Job, Worker } from "bullmq";
import type { QUEUE_NAMES } from "./catalog.js";
import { errorOutcome, resultOutcome } from "./job-outcome.js";
import type { MetricsRecorder } from "./recorder.js";

type QueueName = (typeof QUEUE_NAMES)[number];
type Processor<D, R> = (job: Job<D, R>, token?: string) => Promise<R>;

/**
 * Wraps a BullMQ processor so every attempt lands in the job-duration histogram, including
 * attempts that end by moving the job to the delayed set (no worker event reports those).
 */
export function timed<D, R>(metrics: MetricsRecorder, queue: QueueName, processor: Processor<D, R>): Processor<D, R> {
  return async (job, token) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await processor(job, token);
      metrics.observe("job_duration_seconds", { queue, outcome: resultOutcome(result) }, seconds());
      return result;
    } catch (err) {
      const outcome = errorOutcome(err, job.attemptsMade, job.opts.attempts);
      metrics.observe("job_duration_seconds", { queue, outcome }, seconds());
      throw err;
    }
  };
}

/**
 * The same from a worker's events, for a worker whose processor is built elsewhere (the
 * webhooks worker). `processedOn` is when this attempt started.
 */
export function timeFromEvents(metrics: MetricsRecorder, queue: QueueName, worker: Worker): void {
  const seconds = (job: Job) => Math.max(0, Date.now() - (job.processedOn ?? Date.now())) / 1000;
  worker.on("completed", (job, result) => {
    metrics.observe("job_duration_seconds", { queue, outcome: resultOutcome(result) }, seconds(job));
  });
  worker.on("failed", (job, err) => {
    if (!job) return;
    // attemptsMade already counts the attempt that just failed.
    const outcome = errorOutcome(err, job.attemptsMade - 1, job.opts.attempts);
    metrics.observe("job_duration_seconds", { queue, outcome }, seconds(job));
  });
}
