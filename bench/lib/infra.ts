import type { Redis } from "ioredis";
import type { Queue } from "bullmq";
import type { Db } from "../../src/db/client.js";
import { pendingOf, queueCounts, type QueueCounts } from "../../src/redis/idle.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * BENCH_NAMESPACE (letters, digits, _): a suffix for the bench's database and queue-prefix
 * names, so two benches on one Postgres and Redis (two checkouts) do not share them.
 */
export function benchName(base: string): string {
  const ns = process.env.BENCH_NAMESPACE ?? "";
  if (!/^[A-Za-z0-9_]*$/.test(ns))
    throw new Error(`BENCH_NAMESPACE must be letters, digits or _, got ${JSON.stringify(ns)}`);
  return ns ? `${base}_${ns}` : base;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deletes every key under `prefix:` (the bench's own queue prefixes only). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  if (!/^nrbench[A-Za-z0-9_-]*$/.test(prefix))
    throw new Error(`refusing to delete keys outside the bench's prefixes: ${prefix}`);
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== "0");
  return n;
}

export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

export async function redisVersion(redis: Redis): Promise<string> {
  const info = await redis.info("server");
  return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
}

/**
 * Waits until the queue has nothing left to run, polling every `pollMs`; returns the
 * moment (performance.now) the queue was first seen drained, and the final counts.
 */
export async function waitDrained(
  queue: Queue,
  timeoutMs: number,
  pollMs = 100,
  onPoll?: (c: QueueCounts) => void,
): Promise<{ at: number; counts: QueueCounts }> {
  const deadline = Date.now() + timeoutMs;
  let firstEmpty: number | undefined;
  for (;;) {
    const now = performance.now();
    const counts = await queueCounts(queue);
    onPoll?.(counts);
    if (pendingOf(counts) === 0) {
      if (firstEmpty !== undefined) return { at: firstEmpty, counts };
      firstEmpty = now;
    } else firstEmpty = undefined;
    if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await sleep(pollMs);
  }
}

/** Waits until `count` BullMQ workers are connected to the queue. */
export async function waitWorkers(
  queue: Queue,
  count: number,
  alive: () => boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await queue.getWorkersCount()) < count) {
    if (!alive()) throw new Error("a worker process exited during start-up (see its log under bench/out/logs)");
    if (Date.now() > deadline)
      throw new Error(
        `only ${await queue.getWorkersCount()} of ${count} workers connected after ${timeoutMs} ms (see bench/out/logs)`,
      );
    await sleep(100);
  }
}

export interface GrantRow {
  id: string;
  email: string;
  provider: string;
  timeZone: string;
}

/** Inserts grants with createMany in chunks (all valid, enabled). */
export async function insertGrants(db: Db, grants: GrantRow[], chunk = 5000): Promise<void> {
  for (let i = 0; i < grants.length; i += chunk) {
    await db.grant.createMany({ data: grants.slice(i, i + chunk).map((g) => ({ ...g, sendHour: 18 })) });
  }
}

export async function pgVersion(db: Db): Promise<string> {
  const rows = await db.$queryRaw<{ v: string }[]>`SELECT current_setting('server_version') AS v`;
  return rows[0]?.v ?? "unknown";
}
