import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { DaySummary } from "./day-summary.js";
import { readDaySummary } from "./db-read.js";
import { readQueue, type QueueSummary } from "./queue-read.js";
import { readCounts, type RedisCounts } from "./redis-read.js";

export interface MetricsSources {
  db: Db;
  queues: Queue[];
  /** Reads the workers' counts: best a connection without offline queue, failing fast. */
  redis: Pick<Redis, "hgetall">;
  queuePrefix: string;
  log: Logger;
  now?: () => Date;
  /** A source slower than this is reported down for the scrape (ms). */
  timeoutMs?: number;
  /** Scrapes this close together share one read of every source (ms). */
  cacheMs?: number;
}

/** Everything one scrape shows; a source that failed is missing and marked down. */
export interface Snapshot {
  now: Date;
  days?: DaySummary;
  queues?: QueueSummary[];
  counts?: RedisCounts;
  up: { postgres: boolean; redis: boolean };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Reads every source once per scrape: each metric's collect() awaits the same snapshot, so a
 * scrape costs three Postgres statements and a few Redis round trips however many metrics
 * there are. A source that fails or hangs (Redis down: BullMQ's connection waits for it)
 * leaves its metrics out and sets `source_up` to 0 instead of failing the whole scrape.
 */
export function snapshotLoader(sources: MetricsSources): () => Promise<Snapshot> {
  const timeoutMs = sources.timeoutMs ?? 5000;
  const cacheMs = sources.cacheMs ?? 1000;
  let cached: { at: number; snapshot: Promise<Snapshot> } | undefined;

  const read = async (): Promise<Snapshot> => {
    const now = sources.now?.() ?? new Date();
    const [days, queues, counts] = await Promise.allSettled([
      withTimeout(readDaySummary(sources.db, now), timeoutMs, "Postgres"),
      withTimeout(Promise.all(sources.queues.map((q) => readQueue(q, now.getTime()))), timeoutMs, "Redis (queues)"),
      withTimeout(readCounts(sources.redis, sources.queuePrefix), timeoutMs, "Redis (counts)"),
    ]);
    for (const r of [days, queues, counts]) {
      if (r.status === "rejected") {
        sources.log.warn({ err: r.reason }, "metrics: a source failed; its metrics are left out of this scrape");
      }
    }
    return {
      now,
      days: days.status === "fulfilled" ? days.value : undefined,
      queues: queues.status === "fulfilled" ? queues.value : undefined,
      counts: counts.status === "fulfilled" ? counts.value : undefined,
      up: {
        postgres: days.status === "fulfilled",
        redis: queues.status === "fulfilled" && counts.status === "fulfilled",
      },
    };
  };

  return () => {
    const at = Date.now();
    if (!cached || at - cached.at >= cacheMs) cached = { at, snapshot: read() };
    return cached.snapshot;
  };
}
