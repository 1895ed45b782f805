/**
 * The baseline of benchmark 1: raw `Queue.addBulk` of N bare jobs (a name and a tiny
 * payload, no options) in chunks, into a fresh queue. Env: REDIS_URL, QUEUE_PREFIX,
 * BENCH_JOBS, BENCH_CHUNK. Prints one line `RESULT {json}`.
 */
import { Queue } from "bullmq";
import { createRedis } from "../../src/queue/redis.js";
import { peakRssMb } from "../lib/proc.js";

const n = Number(process.env.BENCH_JOBS);
const chunk = Number(process.env.BENCH_CHUNK ?? 1000);
const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { connectionName: "nr-bench-addbulk" });
const queue = new Queue("reminders", { connection: redis, prefix: process.env.QUEUE_PREFIX! });
await queue.waitUntilReady();
const t0 = performance.now();
for (let i = 0; i < n; i += chunk) {
  const jobs = [];
  for (let j = i; j < Math.min(n, i + chunk); j++) jobs.push({ name: "bare", data: { i: j } });
  await queue.addBulk(jobs);
}
const ms = performance.now() - t0;
await queue.close();
await redis.quit();
process.stdout.write(`RESULT ${JSON.stringify({ jobs: n, ms, peakRssMb: peakRssMb() })}\n`);
