/**
 * Benchmark 1: one scheduler tick over N grants spread over every IANA zone, next to raw
 * BullMQ addBulk of the same number of bare jobs; peak RSS of the ticking process at two
 * sizes; Redis memory per enqueued job.
 */
import type { TickResult } from "../src/scheduler/tick.js";
import { createPrisma } from "../src/db/client.js";
import { createRedis } from "../src/queue/redis.js";
import { freshDatabase } from "../test/harness/database.js";
import { deletePrefix, insertGrants, REDIS_URL, redisUsedMemory, type GrantRow } from "./lib/infra.js";
import { runChild } from "./lib/proc.js";
import type { Reporter } from "./lib/report.js";

export interface SchedulingOptions {
  grants: number;
  /** The smaller size the tick also runs at, to show peak RSS is flat. */
  smallGrants: number;
  chunk: number;
}

interface TickChild {
  tick: TickResult;
  peakRssMb: number;
  rssBeforeTickMb: number;
  afterMb?: { rss: number; heapTotal: number; heapUsed: number; external: number };
}

interface AddBulkChild {
  jobs: number;
  ms: number;
  peakRssMb: number;
}

const PREFIX_TICK = "nrbench_sched";
const PREFIX_RAW = "nrbench_raw";

export function benchGrantRows(from: number, to: number): GrantRow[] {
  const zones = Intl.supportedValuesOf("timeZone");
  const rows: GrantRow[] = [];
  for (let i = from; i < to; i++) {
    rows.push({ id: `bench-${String(i).padStart(7, "0")}`, email: `user${i}@bench.test`, provider: i % 3 === 0 ? "microsoft" : "google", timeZone: zones[i % zones.length]! });
  }
  return rows;
}

export async function runScheduling(opts: SchedulingOptions, report: Reporter): Promise<void> {
  report.section("1. Scheduling");
  const zones = Intl.supportedValuesOf("timeZone").length;
  const url = await freshDatabase("reminders_bench_sched");
  const db = await createPrisma(url, { max: 4 });
  const redis = createRedis(REDIS_URL, { connectionName: "nr-bench" });
  const now = new Date();
  const childEnv = { DATABASE_URL: url, REDIS_URL, QUEUE_PREFIX: PREFIX_TICK, SCHEDULER_PAGE_SIZE: String(opts.chunk), BENCH_NOW: now.toISOString() };
  try {
    await deletePrefix(redis, PREFIX_TICK);
    await deletePrefix(redis, PREFIX_RAW);

    // Small size first: same database, grants added between the two ticks.
    let t = performance.now();
    await insertGrants(db, benchGrantRows(0, opts.smallGrants));
    report.note(`inserted ${opts.smallGrants} grants over ${zones} zones in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const small = await runChild<TickChild>("bench/child/tick.ts", childEnv);
    report.progress(`tick over ${opts.smallGrants} grants: ${small.tick.enqueued} jobs in ${small.tick.ms} ms, peak RSS ${small.peakRssMb.toFixed(0)} MB`);
    await db.run.deleteMany({});
    await deletePrefix(redis, PREFIX_TICK);

    t = performance.now();
    await insertGrants(db, benchGrantRows(opts.smallGrants, opts.grants));
    report.note(`inserted ${opts.grants - opts.smallGrants} more grants in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Baseline: raw addBulk of the same number of bare jobs, same chunk size, fresh queue.
    const raw = await runChild<AddBulkChild>("bench/child/addbulk.ts", { REDIS_URL, QUEUE_PREFIX: PREFIX_RAW, BENCH_JOBS: String(opts.grants), BENCH_CHUNK: String(opts.chunk) });
    const rawRate = raw.jobs / (raw.ms / 1000);
    report.progress(`raw addBulk: ${raw.jobs} jobs in ${raw.ms.toFixed(0)} ms = ${rawRate.toFixed(0)} jobs/s`);
    await deletePrefix(redis, PREFIX_RAW);

    const memBefore = await redisUsedMemory(redis);
    const big = await runChild<TickChild>("bench/child/tick.ts", childEnv);
    const memAfter = await redisUsedMemory(redis);
    const rate = big.tick.enqueued / (big.tick.ms / 1000);
    report.progress(`tick over ${opts.grants} grants: ${big.tick.enqueued} jobs in ${big.tick.ms} ms = ${rate.toFixed(0)} jobs/s, peak RSS ${big.peakRssMb.toFixed(0)} MB`);
    if (big.tick.enqueued !== opts.grants) report.note(`WARNING: the tick enqueued ${big.tick.enqueued} of ${opts.grants} grants`);
    const perJob = (memAfter - memBefore) / big.tick.enqueued;
    // The same tick with V8's old space capped: shows how much of the peak is garbage V8
    // chose not to collect yet rather than memory the tick holds on to.
    await db.run.deleteMany({});
    await deletePrefix(redis, PREFIX_TICK);
    const capped = await runChild<TickChild>("bench/child/tick.ts", childEnv, ["--max-old-space-size=128"]);
    report.progress(`tick over ${opts.grants} grants with --max-old-space-size=128: ${capped.tick.ms} ms, peak RSS ${capped.peakRssMb.toFixed(0)} MB`);

    report.figure({ name: `Tick: jobs enqueued/s (${opts.grants.toLocaleString("en")} grants, ${zones} zones)`, value: rate, unit: "jobs/s", baseline: rawRate, baselineName: "raw addBulk, bare jobs", target: { kind: "ratio>=", value: 0.7 } });
    report.figure({ name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} grants`, value: big.peakRssMb, unit: "MB", baseline: raw.peakRssMb, baselineName: "raw addBulk process", target: { kind: "value<", value: 250 } });
    report.figure({
      name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} vs ${opts.smallGrants.toLocaleString("en")} grants (flat)`,
      value: big.peakRssMb,
      unit: "MB",
      baseline: small.peakRssMb,
      baselineName: `same tick at ${opts.smallGrants.toLocaleString("en")} grants`,
      target: { kind: "ratio<=", value: 1.15 },
    });
    report.figure({ name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} grants, node --max-old-space-size=128`, value: capped.peakRssMb, unit: "MB", baseline: big.peakRssMb, baselineName: "default heap sizing", target: { kind: "value<", value: 250 } });
    report.figure({ name: "Redis memory per enqueued job", value: perJob, unit: "bytes", baseline: undefined, baselineName: "INFO used_memory delta ÷ jobs" });
    report.note(
      `The tick runs with \`ignoreSendHour\` so every grant is due in the one tick (the worst case: with real send hours about 1/24 of the grants fall due per hour). ` +
        `Grants were inserted with createMany in chunks of 5,000; the tick pages them ${opts.chunk} at a time (SCHEDULER_PAGE_SIZE) and enqueues with addBulk in chunks of 1,000. ` +
        `Each tick ran in a child process of its own; peak RSS is that process' getrusage maxrss (Node + Prisma + BullMQ loaded: ${big.rssBeforeTickMb.toFixed(0)} MB before the tick started). ` +
        `Tick time includes reading grants, checking existing runs and inserting Run rows in Postgres. ` +
        `With default V8 heap sizing the heap grows while the tick allocates quickly and is collected late (after the tick ${big.afterMb ? `${big.afterMb.heapUsed.toFixed(0)} MB of ${big.afterMb.heapTotal.toFixed(0)} MB heap were in use` : ""}); the capped run (${capped.tick.ms} ms vs ${big.tick.ms} ms) shows what the tick needs when V8 must collect.`,
    );
  } finally {
    await deletePrefix(redis, PREFIX_TICK).catch(() => 0);
    await deletePrefix(redis, PREFIX_RAW).catch(() => 0);
    await redis.quit();
    await db.$disconnect();
  }
}
