/**
 * The baseline of benchmark 1: raw `Queue.addBulk` of N bare jobs (a name and a tiny
 * payload, no options) in chunks, one call after the other, into a fresh queue.
 * With BENCH_SHAPE=tick the jobs are the tick's instead (its queue's default options, its
 * job ids and payload): not the baseline, it shows what BullMQ alone costs for those jobs.
 * Env: REDIS_URL, QUEUE_PREFIX, BENCH_JOBS, BENCH_CHUNK, BENCH_SHAPE, BENCH_DAY.
 * Prints one line `RESULT {json}`.
 */
import { Queue } from "bullmq";
import { createRunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { RUN_JOB_NAME, runJobId } from "../../src/runs/job.js";
import { peakRssMb } from "../lib/proc.js";

const n = Number(process.env.BENCH_JOBS);
const chunk = Number(process.env.BENCH_CHUNK ?? 1000);
const tickShape = process.env.BENCH_SHAPE === "tick";
const day = process.env.BENCH_DAY ?? "2026-01-01";
const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { connectionName: "nr-bench-addbulk" });
const prefix = process.env.QUEUE_PREFIX!;
const bare = tickShape ? undefined : new Queue("runs", { connection: redis, prefix });
const runs = tickShape ? createRunsQueue(redis, { prefix, attempts: 8 }) : undefined;
const queue = (bare ?? runs)!;
await queue.waitUntilReady();
const t0 = performance.now();
for (let i = 0; i < n; i += chunk) {
  if (bare) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + chunk); j++) jobs.push({ name: "bare", data: { i: j } });
    await bare.addBulk(jobs);
  } else {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + chunk); j++) {
      const grantId = `bench-${String(j).padStart(7, "0")}`;
      jobs.push({
        name: RUN_JOB_NAME,
        data: { grantId, day, source: "scheduler" as const },
        opts: { jobId: runJobId(grantId, day) },
      });
    }
    await runs!.addBulk(jobs);
  }
}
const ms = performance.now() - t0;
await queue.close();
await redis.quit();
process.stdout.write(`RESULT ${JSON.stringify({ jobs: n, ms, peakRssMb: peakRssMb() })}\n`);
