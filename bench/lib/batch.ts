/**
 * One nightly batch, measured: the production pipeline (tick + worker process with DB,
 * ledger and limiter) or the bare baseline (addBulk + a bare worker process making the
 * same Nylas calls). The sandbox runs in its own process in both cases.
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import { createPrisma, type Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { createRunsQueue, runJobOptions } from "../../src/runs/queue.js";
import { RUN_JOB_NAME, runJobId } from "../../src/runs/job.js";
import { schedulerTick, type TickResult } from "../../src/runs/scheduler.js";
import { localDayWindow, nextLocalDay } from "../../src/time/window.js";
import { freshDatabase } from "../../harness/database.js";
import { WorkerFleet } from "../../harness/fleet.js";
import { benchName, deletePrefix, insertGrants, REDIS_URL, waitDrained, waitWorkers } from "./infra.js";
import { cpuMsOfCommand, cpuMsOfPid, machineTicks, peakRssOfPid, ROOT } from "./proc.js";
import { workerNodeFlags } from "../scheduling.js";
import type { SandboxGrant, SandboxProcess } from "./sandbox.js";

export interface BatchOptions {
  mode: "pipeline" | "bare";
  grants: number;
  meetings: number;
  latencyMs: number;
  concurrency: number;
  jobConcurrency: number;
  /** Worker's per-grant send budget (sends/s); the sandbox's own send limit is lifted. */
  sendRate: number;
  timeoutMs: number;
  label: string;
  /** Write a V8 CPU profile of the worker process into this directory. */
  profileDir?: string;
  /** And a sampled profile of its allocations beside it. */
  heapProf?: boolean;
  /** How the bare worker calls Nylas (bench/child/bare-worker.ts); default `sdk`. */
  bareClient?: BareClient;
}

/** The official SDK's calls, or the pipeline's own client (its hot calls decoded lean). */
export type BareClient = "sdk" | "lean";

export interface BatchResult {
  mode: BatchOptions["mode"];
  grants: number;
  wallS: number;
  enqueueMs: number;
  jobs: { completed: number; failed: number };
  sends: number;
  expectedSends: number;
  ledgerSent?: number;
  runsCompleted?: number;
  rateLimited: number;
  grantsPerS: number;
  remindersPerS: number;
  workerPeakRssMb?: number;
  workerCpuS?: number;
  sandboxCpuS?: number;
  benchCpuS: number;
  /** Redis server CPU over the batch (INFO cpu: user + system, main thread and others). */
  redisCpuS?: number;
  /**
   * CPU of every Postgres server process over the batch; a backend that exits mid-batch
   * takes its share with it, so this can undercount (the pool keeps its backends).
   */
  postgresCpuS?: number;
  /** Share of the machine's CPU (all cores) in use over the batch, by any process. */
  machineBusy?: number;
  tick?: TickResult;
  /** Postgres transactions committed in the bench database per job (each statement is one). */
  pgPerJob?: number;
  /** Redis commands per job (INFO commandstats delta; includes the bench's own polling). */
  redisPerJob?: number;
  /** The Redis commands behind `redisPerJob`, per job, largest first. */
  redisByCommand?: Record<string, number>;
}

const DB_NAME = benchName("reminders_bench");
const PREFIX = benchName("nrbench_batch");
const API_KEY_ENV = (sb: SandboxProcess) => ({ NYLAS_API_KEY: sb.apiKey, NYLAS_API_URI: sb.url });

export async function prepareSandbox(
  sandbox: SandboxProcess,
  opts: {
    grants: number;
    meetings: number;
    now: Date;
    latencyMs: number;
    limits: Parameters<SandboxProcess["setLimits"]>[0];
  },
): Promise<SandboxGrant[]> {
  await sandbox.reset();
  await sandbox.setLimits(opts.limits);
  await sandbox.seedBulk(opts.grants, opts.meetings, opts.now);
  await sandbox.setLatency(opts.latencyMs);
  return sandbox.grants();
}

export async function runBatch(sandbox: SandboxProcess, redis: Redis, opts: BatchOptions): Promise<BatchResult> {
  const now = new Date();
  const grants = await prepareSandbox(sandbox, {
    grants: opts.grants,
    meetings: opts.meetings,
    now,
    latencyMs: opts.latencyMs,
    limits: { requestsPerSecond: 0, sendsPerSecond: 0 },
  });
  await deletePrefix(redis, PREFIX);
  const log = createLogger({ name: "bench", level: "warn" });

  let db: Awaited<ReturnType<typeof createPrisma>> | undefined;
  const env: Record<string, string> = {
    ...API_KEY_ENV(sandbox),
    REDIS_URL,
    QUEUE_PREFIX: PREFIX,
    LOG_LEVEL: "warn",
    WORKER_CONCURRENCY: String(opts.concurrency),
    JOB_CONCURRENCY: String(opts.jobConcurrency),
    RATE_READS_PER_SEC: String(opts.sendRate),
    RATE_SENDS_PER_SEC: String(opts.sendRate),
    RATE_SENDS_PER_SEC_GOOGLE: String(opts.sendRate),
    RATE_SENDS_PER_SEC_MICROSOFT: String(opts.sendRate),
    // Serial sends (one per grant in flight, spaced from its answer) only matter against an
    // enforced provider window, and none is here: a job's sends overlap JOB_CONCURRENCY-wide.
    RATE_SEND_MARGIN_MS: "0",
    RATE_SEND_SERIAL: "false",
  };
  if (opts.profileDir) env.BENCH_CPU_PROF = opts.profileDir;
  if (opts.profileDir && opts.heapProf) env.BENCH_HEAP_PROF = "1";
  if (opts.mode === "bare") env.BENCH_BARE_CLIENT = opts.bareClient ?? "sdk";
  if (opts.mode === "pipeline") {
    const url = await freshDatabase(DB_NAME);
    db = await createPrisma(url, { max: 5 });
    await insertGrants(
      db,
      grants.map((g) => ({ id: g.id, email: g.email, provider: g.provider, timeZone: g.zone })),
    );
    env.DATABASE_URL = url;
  }

  const fleet = new WorkerFleet({
    count: 1,
    env,
    logDir: join(ROOT, "bench/out/logs", opts.label),
    entry: opts.mode === "pipeline" ? "bench/child/worker.ts" : "bench/child/bare-worker.ts",
    // Both start as the worker dyno does (the Procfile's heap flag): their peak RSS is the dyno's.
    nodeFlags: workerNodeFlags(),
  });
  const queue = createRunsQueue(redis, { prefix: PREFIX, attempts: 8 });
  try {
    fleet.startAll();
    await waitWorkers(queue, 1, () => fleet.alive(0));
    await sandbox.clearLogs();
    const sandboxCpu0 = sandbox.cpuMs() ?? 0;
    const workerCpu0 = cpuMsOfPid(fleet.pid(0)) ?? 0;
    const benchCpu0 = process.cpuUsage();
    const redis0 = await commandCalls(redis);
    const pg0 = db ? await xactCommits(db) : undefined;
    const redisCpu0 = await redisCpuS(redis);
    const postgresCpu0 = cpuMsOfCommand("postgres");
    const machine0 = machineTicks();

    const t0 = performance.now();
    let tick: TickResult | undefined;
    if (opts.mode === "pipeline") {
      tick = await schedulerTick(db!, queue, log, { now, pageSize: 1000, ignoreSendHour: true });
    } else {
      for (let i = 0; i < grants.length; i += 1000) {
        await queue.addBulk(
          grants.slice(i, i + 1000).map((g) => {
            const day = nextLocalDay(g.zone, now);
            const w = localDayWindow(g.zone, day);
            return {
              name: RUN_JOB_NAME,
              data: { grantId: g.id, email: g.email, start: w.start, end: w.end } as never,
              opts: { ...runJobOptions(8), jobId: runJobId(g.id, day) },
            };
          }),
        );
      }
    }
    const enqueueMs = performance.now() - t0;
    const drained = await waitDrained(queue, opts.timeoutMs);
    const wallS = (drained.at - t0) / 1000;
    const bench = process.cpuUsage(benchCpu0);
    const redis1 = await commandCalls(redis);
    const redisCpu1 = await redisCpuS(redis);
    const postgresCpu1 = cpuMsOfCommand("postgres");
    const machine1 = machineTicks();

    const counters = await sandbox.counters();
    const result: BatchResult = {
      mode: opts.mode,
      grants: opts.grants,
      wallS,
      enqueueMs,
      jobs: { completed: drained.counts.completed, failed: drained.counts.failed },
      sends: counters.sends,
      expectedSends: opts.grants * opts.meetings,
      rateLimited: counters.rateLimitedNylas + counters.rateLimitedProvider,
      grantsPerS: opts.grants / wallS,
      remindersPerS: counters.sends / wallS,
      workerPeakRssMb: peakRssOfPid(fleet.pid(0)),
      workerCpuS: ((cpuMsOfPid(fleet.pid(0)) ?? 0) - workerCpu0) / 1000,
      sandboxCpuS: ((sandbox.cpuMs() ?? 0) - sandboxCpu0) / 1000,
      benchCpuS: (bench.user + bench.system) / 1e6,
      redisCpuS: redisCpu1 - redisCpu0,
      postgresCpuS: (postgresCpu1 - postgresCpu0) / 1000,
      machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
      tick,
    };
    const byCommand: Record<string, number> = {};
    let redisTotal = 0;
    for (const [cmd, n] of redis1) {
      const d = n - (redis0.get(cmd) ?? 0);
      if (d <= 0 || cmd === "info") continue;
      redisTotal += d;
      byCommand[cmd] = d / opts.grants;
    }
    result.redisPerJob = redisTotal / opts.grants;
    result.redisByCommand = Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1]));
    if (db) {
      // A backend reports its counts when it goes idle for long enough or exits: stop the
      // worker first so every statement it made is counted.
      await fleet.stopAll(15_000);
      result.pgPerJob = ((await xactCommits(db)) - pg0!) / opts.grants;
      result.ledgerSent = await db.reminder.count({ where: { status: "sent" } });
      result.runsCompleted = await db.run.count({ where: { status: "completed" } });
    }
    return result;
  } finally {
    await fleet.stopAll(15_000);
    await queue.close();
    await deletePrefix(redis, PREFIX).catch(() => 0);
    await db?.$disconnect();
  }
}

/** Transactions committed in the bench database so far (every autocommit statement is one). */
async function xactCommits(db: Db): Promise<number> {
  const [row] = await db.$queryRawUnsafe<{ n: bigint }[]>(
    "SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()",
  );
  return Number(row!.n);
}

/** The Redis server's CPU so far, in seconds (INFO cpu, user + system). */
async function redisCpuS(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Calls of each Redis command so far (INFO commandstats). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** One line describing a batch, for the progress output. */
export function describeBatch(r: BatchResult): string {
  return (
    `${r.mode} ${r.grants} grants: ${r.wallS.toFixed(1)} s, ${r.grantsPerS.toFixed(0)} grants/s, ${r.remindersPerS.toFixed(0)} reminders/s; ` +
    `sends ${r.sends}/${r.expectedSends}` +
    (r.ledgerSent !== undefined ? `, ledger sent ${r.ledgerSent}, runs completed ${r.runsCompleted}` : "") +
    `, jobs failed ${r.jobs.failed}, 429s ${r.rateLimited}; CPU s: worker ${r.workerCpuS?.toFixed(1)}, sandbox ${r.sandboxCpuS?.toFixed(1)}, Redis ${r.redisCpuS?.toFixed(1)}, Postgres ${r.postgresCpuS?.toFixed(1)}, machine busy ${((r.machineBusy ?? 0) * 100).toFixed(0)}%, bench ${r.benchCpuS.toFixed(1)}; worker peak RSS ${r.workerPeakRssMb?.toFixed(0)} MB` +
    (r.pgPerJob !== undefined ? `; per job: ${r.pgPerJob.toFixed(2)} Postgres statements` : "; per job:") +
    ` ${r.redisPerJob?.toFixed(2)} Redis commands (${Object.entries(r.redisByCommand ?? {})
      .slice(0, 6)
      .map(([c, n]) => `${c} ${n.toFixed(2)}`)
      .join(", ")})`
  );
}

/** Whether every expected reminder went out exactly once, as far as counts can tell. */
export function batchProblems(r: BatchResult): string[] {
  const p: string[] = [];
  if (r.sends !== r.expectedSends) p.push(`${r.sends} sends for ${r.expectedSends} expected reminders`);
  if (r.ledgerSent !== undefined && r.ledgerSent !== r.expectedSends)
    p.push(`ledger has ${r.ledgerSent} sent for ${r.expectedSends} expected`);
  if (r.jobs.failed > 0) p.push(`${r.jobs.failed} jobs failed`);
  if (r.rateLimited > 0) p.push(`${r.rateLimited} responses were 429`);
  return p;
}
