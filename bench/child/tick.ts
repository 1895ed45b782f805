/**
 * One scheduler tick in a process of its own, so its peak RSS is the tick's alone.
 * Env: DATABASE_URL, REDIS_URL, QUEUE_PREFIX, SCHEDULER_PAGE_SIZE, BENCH_NOW (ISO).
 * Prints one line `RESULT {json}`.
 */
import { getHeapStatistics } from "node:v8";
import { createPrisma } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { createRunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { peakRssMb } from "../lib/proc.js";

const env = process.env;
const db = await createPrisma(env.DATABASE_URL!, { max: 5 });
const redis = createRedis(env.REDIS_URL ?? "redis://127.0.0.1:6379", { connectionName: "nr-bench-tick" });
const queue = createRunsQueue(redis, { prefix: env.QUEUE_PREFIX!, attempts: 8 });
// Connected before the clock starts, as the raw addBulk child's queue is: in the worker
// both connections are long open when a tick runs.
await queue.waitUntilReady();
await db.$connect();
const log = createLogger({ name: "bench-tick", level: "warn" });
const before = process.memoryUsage().rss;
const cpuBefore = process.cpuUsage();
const tick = await schedulerTick(db, queue, log, {
  now: new Date(env.BENCH_NOW ?? Date.now()),
  pageSize: Number(env.SCHEDULER_PAGE_SIZE ?? 1000),
  ignoreSendHour: true,
});
const cpu = process.cpuUsage(cpuBefore);
const mem = process.memoryUsage();
const result = {
  tick,
  peakRssMb: peakRssMb(),
  rssBeforeTickMb: before / 1048576,
  /** CPU of the whole process (all threads) during the tick, ms. */
  cpuMs: (cpu.user + cpu.system) / 1000,
  execArgv: process.execArgv.filter(
    (a) => a.startsWith("--") && !a.startsWith("--import") && !a.startsWith("--require"),
  ),
  heapLimitMb: getHeapStatistics().heap_size_limit / 1048576,
  afterMb: {
    rss: mem.rss / 1048576,
    heapTotal: mem.heapTotal / 1048576,
    heapUsed: mem.heapUsed / 1048576,
    external: mem.external / 1048576,
    arrayBuffers: mem.arrayBuffers / 1048576,
  },
};
await queue.close();
await redis.quit();
await db.$disconnect();
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
