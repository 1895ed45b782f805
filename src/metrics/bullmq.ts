import { MetricsTime, type MetricsOptions } from "bullmq";

/**
 * BullMQ's own per-minute counts of completed and failed jobs (Bull Board's throughput
 * charts), kept a week: 10,080 points of a few bytes per queue.
 */
export const BULLMQ_WORKER_METRICS: MetricsOptions = { maxDataPoints: MetricsTime.ONE_WEEK };
