/**
 * Benchmark 1: one scheduler tick over N grants spread over every IANA zone, next to raw
 * BullMQ addBulk of the same number of bare jobs; peak RSS of the ticking process at two
 * sizes; Redis memory per enqueued job.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TickResult } from "../src/runs/scheduler.js";
import { ADD_CHUNK, ADDS_IN_FLIGHT } from "../src/runs/scheduler.js";
import { createPrisma } from "../src/db/client.js";
import { createRedis } from "../src/redis/connection.js";
import { freshDatabase } from "../harness/database.js";
import { benchName, deletePrefix, insertGrants, REDIS_URL, redisUsedMemory, type GrantRow } from "./lib/infra.js";
import { ROOT, runChild } from "./lib/proc.js";
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
  cpuMs: number;
  execArgv: string[];
  heapLimitMb: number;
  afterMb?: { rss: number; heapTotal: number; heapUsed: number; external: number };
}

interface AddBulkChild {
  jobs: number;
  ms: number;
  peakRssMb: number;
}

const PREFIX_TICK = benchName("nrbench_sched");
const PREFIX_RAW = benchName("nrbench_raw");

export function benchGrantRows(from: number, to: number): GrantRow[] {
  const zones = Intl.supportedValuesOf("timeZone");
  const rows: GrantRow[] = [];
  for (let i = from; i < to; i++) {
    rows.push({
      id: `bench-${String(i).padStart(7, "0")}`,
      email: `user${i}@bench.test`,
      provider: i % 3 === 0 ? "microsoft" : "google",
      timeZone: zones[i % zones.length]!,
    });
  }
  return rows;
}

/**
 * The node options the worker dyno (which runs the tick) starts with in production: the
 * flags between `node` and the script on the Procfile's `worker:` line, then NODE_OPTIONS
 * from app.json's env. The tick's children start with the same ones, so the bench measures
 * the heap sizing production uses. BENCH_TICK_NODE_FLAGS, when set, replaces them (to try
 * other flags; an empty string for none).
 */
export function workerNodeFlags(root = ROOT): string[] {
  const override = process.env.BENCH_TICK_NODE_FLAGS;
  if (override !== undefined) return override.trim() === "" ? [] : override.trim().split(/\s+/);
  const flags: string[] = [];
  try {
    const line = readFileSync(join(root, "Procfile"), "utf8")
      .split("\n")
      .find((l) => /^worker\s*:/.test(l));
    const words =
      line
        ?.replace(/^worker\s*:/, "")
        .trim()
        .split(/\s+/) ?? [];
    if (words[0] === "node" || words[0]?.endsWith("/node"))
      for (const w of words.slice(1)) {
        if (!w.startsWith("-")) break;
        flags.push(w);
      }
  } catch {
    // no Procfile: no flags from it
  }
  try {
    const app = JSON.parse(readFileSync(join(root, "app.json"), "utf8")) as {
      env?: Record<string, { value?: string } | string>;
    };
    const v = app.env?.NODE_OPTIONS;
    const value = typeof v === "string" ? v : v?.value;
    if (value) flags.push(...value.trim().split(/\s+/));
  } catch {
    // no app.json: no NODE_OPTIONS from it
  }
  return flags;
}

export async function runScheduling(opts: SchedulingOptions, report: Reporter): Promise<void> {
  report.section("1. Scheduling");
  const zones = Intl.supportedValuesOf("timeZone").length;
  const url = await freshDatabase(benchName("reminders_bench_sched"));
  const db = await createPrisma(url, { max: 4 });
  const redis = createRedis(REDIS_URL, { connectionName: "nr-bench" });
  const now = new Date();
  const childEnv = {
    DATABASE_URL: url,
    REDIS_URL,
    QUEUE_PREFIX: PREFIX_TICK,
    SCHEDULER_PAGE_SIZE: String(opts.chunk),
    BENCH_NOW: now.toISOString(),
  };
  const prodFlags = workerNodeFlags();
  const flagsText = prodFlags.length > 0 ? `\`node ${prodFlags.join(" ")}\`` : "default V8 heap sizing (no node flags)";
  // The other heap sizing, for comparison: without the production flags if there are any,
  // otherwise with a heap cap.
  const otherFlags = prodFlags.length > 0 ? [] : ["--max-old-space-size=256"];
  const otherText = otherFlags.length > 0 ? `node ${otherFlags.join(" ")}` : "default V8 heap sizing";
  const resetTick = async () => {
    await db.run.deleteMany({});
    await deletePrefix(redis, PREFIX_TICK);
  };
  const tickChild = async (label: string, flags: string[]) => {
    const r = await runChild<TickChild>("bench/child/tick.ts", childEnv, flags);
    report.progress(
      `${label}: ${r.tick.enqueued} jobs in ${r.tick.ms} ms = ${(r.tick.enqueued / (r.tick.ms / 1000)).toFixed(0)} jobs/s, CPU ${(r.cpuMs / 1000).toFixed(1)} s, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
    return r;
  };
  const rawChild = async (label: string, shape: "bare" | "tick" = "bare") => {
    await deletePrefix(redis, PREFIX_RAW);
    const r = await runChild<AddBulkChild>("bench/child/addbulk.ts", {
      REDIS_URL,
      QUEUE_PREFIX: PREFIX_RAW,
      BENCH_JOBS: String(opts.grants),
      BENCH_CHUNK: String(opts.chunk),
      BENCH_SHAPE: shape,
    });
    await deletePrefix(redis, PREFIX_RAW);
    report.progress(
      `${label}: ${r.jobs} jobs in ${r.ms.toFixed(0)} ms = ${(r.jobs / (r.ms / 1000)).toFixed(0)} jobs/s, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
    return r;
  };
  try {
    await deletePrefix(redis, PREFIX_TICK);
    await deletePrefix(redis, PREFIX_RAW);
    report.progress(
      `tick processes start with ${flagsText} (${process.env.BENCH_TICK_NODE_FLAGS !== undefined ? "BENCH_TICK_NODE_FLAGS" : "from the Procfile's worker line and app.json's NODE_OPTIONS"})`,
    );

    // Small size first: same database, grants added between the two ticks.
    let t = performance.now();
    await insertGrants(db, benchGrantRows(0, opts.smallGrants));
    report.note(
      `inserted ${opts.smallGrants} grants over ${zones} zones in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    // Twice, as the big tick runs twice: flatness compares the higher peak of each size.
    const smalls: TickChild[] = [];
    for (const i of [1, 2]) {
      smalls.push(await tickChild(`tick over ${opts.smallGrants} grants (${i})`, prodFlags));
      await resetTick();
    }
    const smallPeak = Math.max(...smalls.map((r) => r.peakRssMb));

    t = performance.now();
    await insertGrants(db, benchGrantRows(opts.smallGrants, opts.grants));
    report.note(
      `inserted ${opts.grants - opts.smallGrants} more grants in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    // ABBA: raw, tick, tick, raw; the faster run of each side counts. On a shared 2-core
    // machine one pair is at the mercy of whatever else runs meanwhile, and ABBA cancels a
    // steady drift. The baseline is raw addBulk of bare jobs, same chunk size, fresh queue,
    // one call after the other, with default heap sizing.
    const raws: AddBulkChild[] = [];
    const ticks: TickChild[] = [];
    let perJob = NaN;
    raws.push(await rawChild("raw addBulk (1)"));
    for (const i of [1, 2]) {
      const memBefore = await redisUsedMemory(redis);
      ticks.push(await tickChild(`tick over ${opts.grants} grants (${i})`, prodFlags));
      const memAfter = await redisUsedMemory(redis);
      if (i === 1) perJob = (memAfter - memBefore) / ticks[0]!.tick.enqueued;
      await resetTick();
    }
    raws.push(await rawChild("raw addBulk (2)"));
    // Not a baseline: BullMQ alone with the tick's own jobs (ids, options, payload), serial.
    const shaped = await rawChild("raw addBulk of the tick's jobs (same ids and options)", "tick");
    // The other heap sizing, for comparison.
    const other = await tickChild(`tick over ${opts.grants} grants, ${otherText}`, otherFlags);
    await resetTick();

    const defaultHeapLimitMb = (prodFlags.length > 0 ? other : ticks[0]!).heapLimitMb;
    const [{ autovacuum } = { autovacuum: "unknown" }] = await db.$queryRaw<{ autovacuum: string }[]>`SHOW autovacuum`;
    const rate = (r: { tick: TickResult }) => r.tick.enqueued / (r.tick.ms / 1000);
    const rawRate = Math.max(...raws.map((r) => r.jobs / (r.ms / 1000)));
    const big = ticks.reduce((a, b) => (rate(b) > rate(a) ? b : a));
    const bigPeak = Math.max(...ticks.map((r) => r.peakRssMb));
    for (const r of ticks)
      if (r.tick.enqueued !== opts.grants)
        report.note(`WARNING: the tick enqueued ${r.tick.enqueued} of ${opts.grants} grants`);

    report.figure({
      name: `Tick: jobs enqueued/s (${opts.grants.toLocaleString("en")} grants, ${zones} zones)`,
      value: rate(big),
      unit: "jobs/s",
      baseline: rawRate,
      baselineName: "raw addBulk, bare jobs",
      target: { kind: "ratio>=", value: 0.7 },
    });
    report.figure({
      name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} grants`,
      value: bigPeak,
      unit: "MB",
      baseline: Math.max(...raws.map((r) => r.peakRssMb)),
      baselineName: "raw addBulk process",
      target: { kind: "value<", value: 250 },
    });
    report.figure({
      name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} vs ${opts.smallGrants.toLocaleString("en")} grants (flat)`,
      value: bigPeak,
      unit: "MB",
      baseline: smallPeak,
      baselineName: `same tick at ${opts.smallGrants.toLocaleString("en")} grants`,
      target: { kind: "ratio<=", value: 1.15 },
    });
    report.figure({
      name: `Tick: peak RSS at ${opts.grants.toLocaleString("en")} grants, ${otherText}`,
      value: other.peakRssMb,
      unit: "MB",
      baseline: bigPeak,
      baselineName: prodFlags.length > 0 ? "production flags" : "default heap sizing",
    });
    report.figure({
      name: "Redis memory per enqueued job",
      value: perJob,
      unit: "bytes",
      baseline: undefined,
      baselineName: "INFO used_memory delta ÷ jobs",
    });

    const row = (name: string, r: TickChild, counted: boolean) =>
      `| ${name}${counted ? " (counted)" : ""} | ${r.tick.enqueued} | ${r.tick.ms} | ${rate(r).toFixed(0)} | ${(r.cpuMs / 1000).toFixed(1)} | ${r.rssBeforeTickMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.heapLimitMb.toFixed(0)} |`;
    const rawRow = (name: string, r: AddBulkChild, counted: boolean) =>
      `| ${name}${counted ? " (counted)" : ""} | ${r.jobs} | ${r.ms.toFixed(0)} | ${(r.jobs / (r.ms / 1000)).toFixed(0)} | — | — | ${r.peakRssMb.toFixed(0)} | — |`;
    const fastestRaw = raws.reduce((a, b) => (b.jobs / b.ms > a.jobs / a.ms ? b : a));
    report.extra(
      [
        "| Run | Jobs | ms | Jobs/s | Tick CPU s | RSS before tick MB | Peak RSS MB | V8 heap limit MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row(`tick, ${opts.smallGrants.toLocaleString("en")} grants`, smalls[0]!, false),
        row(`tick, ${opts.smallGrants.toLocaleString("en")} grants`, smalls[1]!, false),
        rawRow("1. raw addBulk, bare jobs", raws[0]!, raws[0] === fastestRaw),
        row("2. tick", ticks[0]!, ticks[0] === big),
        row("3. tick", ticks[1]!, ticks[1] === big),
        rawRow("4. raw addBulk, bare jobs", raws[1]!, raws[1] === fastestRaw),
        rawRow("raw addBulk of the tick's jobs (not a baseline)", shaped, false),
        row(`tick, ${otherText}`, other, false),
      ].join("\n"),
    );
    report.note(
      `The tick runs with \`ignoreSendHour\` so every grant is due in the one tick (the worst case: with real send hours about 1/24 of the grants fall due per hour). ` +
        `Grants were inserted with createMany in chunks of 5,000; the tick pages them ${opts.chunk.toLocaleString("en")} at a time (SCHEDULER_PAGE_SIZE). ` +
        `Per page one statement reads the grants, inserts the due grants' Run rows and returns them with the state their runs had (a second statement when a page holds a zone the tick has not checked yet: the first page); ` +
        `the next page's statement runs while the jobs go to Redis in addBulk calls of ${ADD_CHUNK}, up to ${ADDS_IN_FLIGHT} in flight. ` +
        `Tick time includes reading grants, checking existing runs and inserting Run rows in Postgres. ` +
        (autovacuum === "off"
          ? `This Postgres runs without autovacuum, so neither table has statistics; the tick's statement plans the same without them.`
          : `The tick's statement plans the same with or without statistics on either table.`),
    );
    report.note(
      `Raw addBulk and the tick ran in ABBA order (raw, tick, tick, raw); the rate counts the faster run of each side, the peak RSS the higher of the two ticks (the tick at the smaller size also ran twice). ` +
        `The baseline adds bare jobs (a name and a tiny payload, no id, no options) one call of ${opts.chunk.toLocaleString("en")} after the other. ` +
        `BullMQ alone, adding the tick's own jobs (job ids, the queue's attempts, backoff and retention options, the payload) the same way, reached ${Math.round(shaped.jobs / (shaped.ms / 1000)).toLocaleString("en")} jobs/s.`,
    );
    report.note(
      `Each tick ran in a child process of its own started with ${flagsText}${process.env.BENCH_TICK_NODE_FLAGS !== undefined ? " (BENCH_TICK_NODE_FLAGS)" : ", as the worker dyno is"} (V8 heap limit ${big.heapLimitMb.toFixed(0)} MB); peak RSS is that process' getrusage maxrss (Node, Prisma and BullMQ loaded under tsx, both connections open: ${big.rssBeforeTickMb.toFixed(0)} MB before the tick started). ` +
        `The tick holds one page and ${ADDS_IN_FLIGHT} addBulk calls at a time, but allocates about 12 kB per job (V8's sampling heap profiler, once), most of it in BullMQ and ioredis; how far the heap grows before V8 collects is V8's heap sizing: ` +
        `with an old-space limit of 2 GB or more (Node's default here is ${Math.round(defaultHeapLimitMb / 1024)} GB, sized from the machine's memory) V8 lets the old generation grow to 4× the live heap between full collections; with --max-old-space-size below 2 GB the factor falls linearly to 1.3 at 256 MB. ` +
        `With ${otherText} the same tick peaked at ${other.peakRssMb.toFixed(0)} MB in ${other.tick.ms} ms (CPU ${(other.cpuMs / 1000).toFixed(1)} s).`,
    );
  } finally {
    await deletePrefix(redis, PREFIX_TICK).catch(() => 0);
    await deletePrefix(redis, PREFIX_RAW).catch(() => 0);
    await redis.quit();
    await db.$disconnect();
  }
}
