/**
 * Benchmark 2: the nightly batch through the whole pipeline next to a bare BullMQ worker
 * making the same Nylas calls; then the pipeline with 100 ms added to every sandbox call,
 * next to the ideal that worker concurrency and latency allow.
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import { batchProblems, describeBatch, runBatch, type BareClient, type BatchResult } from "./lib/batch.js";
import type { Reporter } from "./lib/report.js";
import { workerNodeFlags } from "./scheduling.js";
import type { SandboxProcess } from "./lib/sandbox.js";

export interface BatchBenchOptions {
  grants: number;
  meetings: number;
  latencyGrants: number;
  latencyMs: number;
  /** Worker concurrencies of the latency runs (bare and pipeline side by side at each). */
  latencyConcurrencies: number[];
  /** The latency run whose ratio has the ≥ 80% target. */
  latencyTargetConcurrency: number;
  /** The configuration's default WORKER_CONCURRENCY (the RSS target and the dyno sizing). */
  defaultConcurrency: number;
  concurrency: number;
  jobConcurrency: number;
  timeoutMs: number;
  profileDir?: string;
  heapProf?: boolean;
  /** How the bare worker calls Nylas (--bare-client). */
  bareClient: BareClient;
  /** ABBA rounds per comparison (--repeat): the fastest run of each side counts. */
  repeat: number;
}

interface LatencyPoint {
  concurrency: number;
  grants: number;
  runs: BatchResult[];
}

/** ABBA order, `rounds` times over. */
function abba(rounds: number): ("bare" | "pipeline")[] {
  return Array.from({ length: rounds }, () => ["bare", "pipeline", "pipeline", "bare"] as const).flat();
}

/** The fastest run of one mode. */
function fastestOf(runs: BatchResult[], mode: BatchResult["mode"]): BatchResult {
  return runs.filter((r) => r.mode === mode).sort((a, b) => a.wallS - b.wallS)[0]!;
}

/** Send budget for this benchmark: high enough that the per-grant limit never binds. */
const RAISED_SEND_RATE = 1000;

export async function runBatchBench(
  sandbox: SandboxProcess,
  redis: Redis,
  o: BatchBenchOptions,
  report: Reporter,
): Promise<BatchResult> {
  report.section("2. The nightly batch");
  const common = {
    grants: o.grants,
    meetings: o.meetings,
    latencyMs: 0,
    concurrency: o.concurrency,
    jobConcurrency: o.jobConcurrency,
    sendRate: RAISED_SEND_RATE,
    timeoutMs: o.timeoutMs,
    profileDir: o.profileDir,
    heapProf: o.heapProf,
    bareClient: o.bareClient,
  };
  // ABBA order, the fastest run of each side counted: on a shared 2-core machine a single
  // pair is at the mercy of whatever else runs meanwhile, and ABBA cancels a steady drift.
  const runs: { name: string; r: BatchResult }[] = [];
  for (const mode of abba(o.repeat)) {
    const r = await runBatch(sandbox, redis, { ...common, mode, label: `batch-${mode}-${runs.length + 1}` });
    report.progress(describeBatch(r));
    for (const p of batchProblems(r)) report.note(`PROBLEM in the ${mode} batch: ${p}`);
    runs.push({ name: mode === "bare" ? "bare worker (no DB, ledger, limiter)" : "pipeline", r });
  }
  const bare = fastestOf(
    runs.map((x) => x.r),
    "bare",
  );
  const pipe = fastestOf(
    runs.map((x) => x.r),
    "pipeline",
  );

  const size = `${o.grants.toLocaleString("en")} grants × ${o.meetings}`;
  report.figure({
    name: `Batch ${size}: wall time`,
    value: pipe.wallS,
    unit: "s",
    baseline: bare.wallS,
    baselineName: "bare worker",
  });
  report.figure({
    name: `Batch ${size}: grants/s`,
    value: pipe.grantsPerS,
    unit: "grants/s",
    baseline: bare.grantsPerS,
    baselineName: "bare worker",
    target: { kind: "ratio>=", value: 0.8 },
  });
  report.figure({
    name: `Batch ${size}: reminders/s`,
    value: pipe.remindersPerS,
    unit: "reminders/s",
    baseline: bare.remindersPerS,
    baselineName: "bare worker",
    target: { kind: "ratio>=", value: 0.8 },
  });

  // The latency runs: bare and pipeline under the same +latency per call, side by side at each
  // worker concurrency (ABBA at each), each process' peak RSS, and the dyno sizing.
  const rounds = 1 + Math.ceil(o.meetings / o.jobConcurrency);
  const latency: LatencyPoint[] = [];
  for (const c of o.latencyConcurrencies) {
    // Each slot runs about 30 jobs: shorter runs are dominated by their start and their
    // drain (the last jobs finishing with most slots idle), and one run could differ from the
    // next by a fifth.
    const grants = Math.max(o.latencyGrants, 30 * c);
    const point: LatencyPoint = { concurrency: c, grants, runs: [] };
    for (const mode of abba(o.repeat)) {
      const r = await runBatch(sandbox, redis, {
        ...common,
        grants,
        latencyMs: o.latencyMs,
        mode,
        label: `batch-latency-${c}-${mode}-${point.runs.length + 1}`,
        concurrency: c,
        // Profiles of the latency runs go to a folder of their own per concurrency.
        profileDir: o.profileDir ? join(o.profileDir, `latency-${c}`) : undefined,
      });
      report.progress(`+${o.latencyMs} ms, WORKER_CONCURRENCY=${c}: ${describeBatch(r)}`);
      for (const p of batchProblems(r)) report.note(`PROBLEM in the latency batch (${mode}, ${c}): ${p}`);
      point.runs.push(r);
    }
    latency.push(point);
    const lb = fastestOf(point.runs, "bare");
    const lp = fastestOf(point.runs, "pipeline");
    report.figure({
      name: `Batch with +${o.latencyMs} ms per call, WORKER_CONCURRENCY=${c} (${grants.toLocaleString("en")} grants): jobs/s`,
      value: lp.grantsPerS,
      unit: "jobs/s",
      baseline: lb.grantsPerS,
      baselineName: `bare worker, same latency and concurrency (ideal ${(c / ((rounds * o.latencyMs) / 1000)).toFixed(0)})`,
      ...(c === o.latencyTargetConcurrency ? { target: { kind: "ratio>=" as const, value: 0.8 } } : {}),
    });
    report.figure({
      name: `Worker peak RSS at WORKER_CONCURRENCY=${c}, +${o.latencyMs} ms per call`,
      value: Math.max(...point.runs.filter((r) => r.mode === "pipeline").map((r) => r.workerPeakRssMb ?? 0)),
      unit: "MB",
      baseline: Math.max(...point.runs.filter((r) => r.mode === "bare").map((r) => r.workerPeakRssMb ?? 0)),
      baselineName: "bare worker",
      ...(c === o.defaultConcurrency ? { target: { kind: "value<=" as const, value: 400 } } : {}),
    });
  }
  const atDefault = latency.find((p) => p.concurrency === o.defaultConcurrency);
  if (atDefault) {
    const jobsPerS = fastestOf(atDefault.runs, "pipeline").grantsPerS;
    report.figure({
      name: `One worker process (dyno) at the default WORKER_CONCURRENCY=${o.defaultConcurrency}, +${o.latencyMs} ms per call: grants per hour`,
      value: jobsPerS * 3600,
      unit: "grants/h",
      baseline: undefined,
      baselineName: `${jobsPerS.toFixed(1)} jobs/s × 3600`,
    });
    report.note(
      `Dyno sizing: one worker dyno at the default WORKER_CONCURRENCY=${o.defaultConcurrency} with ${o.latencyMs} ms per Nylas call ran ${jobsPerS.toFixed(1)} jobs/s, i.e. ${Math.floor(jobsPerS * 3600).toLocaleString("en")} grants in an hour; a deployment whose busiest evening hour has N grants due needs ⌈N / ${Math.floor(jobsPerS * 3600).toLocaleString("en")}⌉ worker dynos to finish that hour's runs within it (measured on this machine: a dyno's CPU share differs).`,
    );
  }

  report.extra(
    [
      "| Run | Grants | Wall s | Grants/s | Reminders/s | Sends / expected | Ledger sent | Failed jobs | 429s | Worker CPU s | Worker CPU ms/job | Postgres statements/job | Redis commands/job | Sandbox CPU s | Redis CPU s | Postgres CPU s | Machine busy | Worker peak RSS MB |",
      "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...[
        ...runs.map((x, i) => [`${i + 1}. ${x.name}${x.r === bare || x.r === pipe ? " (counted)" : ""}`, x.r]),
        ...latency.flatMap((p) =>
          p.runs.map((r, i) => [
            `${r.mode === "bare" ? "bare worker" : "pipeline"}, +${o.latencyMs} ms per call, WORKER_CONCURRENCY=${p.concurrency} (${i + 1})`,
            r,
          ]),
        ),
      ].map(([name, r]) => {
        const b = r as BatchResult;
        return `| ${name as string} | ${b.grants} | ${b.wallS.toFixed(1)} | ${b.grantsPerS.toFixed(1)} | ${b.remindersPerS.toFixed(0)} | ${b.sends} / ${b.expectedSends} | ${b.ledgerSent ?? "—"} | ${b.jobs.failed} | ${b.rateLimited} | ${b.workerCpuS?.toFixed(1)} | ${b.workerCpuS !== undefined ? ((1000 * b.workerCpuS) / b.grants).toFixed(2) : "—"} | ${b.pgPerJob?.toFixed(2) ?? "—"} | ${b.redisPerJob?.toFixed(1) ?? "—"} | ${b.sandboxCpuS?.toFixed(1)} | ${b.redisCpuS?.toFixed(1) ?? "—"} | ${b.postgresCpuS?.toFixed(1) ?? "—"} | ${b.machineBusy !== undefined ? `${(b.machineBusy * 100).toFixed(0)}%` : "—"} | ${b.workerPeakRssMb?.toFixed(0)} |`;
      }),
    ].join("\n"),
  );
  report.note(
    `The two workers ran in ABBA order (bare, pipeline, pipeline, bare${o.repeat > 1 ? `, ${o.repeat} times over` : ""}); the figures count the fastest run of each. ` +
      `Both workers run as a separate process (WorkerFleet, one process, started as the Procfile's worker line with \`node ${workerNodeFlags().join(" ")}\`) with WORKER_CONCURRENCY=${o.concurrency} and JOB_CONCURRENCY=${o.jobConcurrency}, and the same sandbox. ${bareClientNote(o.bareClient)} ` +
      `The pipeline worker is \`startWorkerApp\` (bench/child/worker.ts: jobs/worker.ts without the repeating tick); its batch time starts with the scheduler tick that writes the Run rows and enqueues the jobs, the bare one's with addBulk of the same jobs (same ids and options).`,
  );
  report.note(
    `Send budgets raised for this benchmark (the per-grant limit is benchmark 3's subject): the sandbox's request and send limits are off, and the worker runs with RATE_SENDS_PER_SEC*=${RAISED_SEND_RATE}, RATE_READS_PER_SEC=${RAISED_SEND_RATE} and RATE_SEND_SERIAL=false (serial sends — one per grant in flight, spaced from its answer — guard an enforced provider window, and there is none here; a job's sends overlap JOB_CONCURRENCY-wide). The limiter is still consulted for every call (one Redis script per call).`,
  );
  report.note(
    `The sandbox runs in a child process of its own (bench/child/sandbox.ts), driven over its control routes: on a 2-core machine an in-process sandbox would put its request handling (the "Sandbox CPU s" column) on the measured event loop. The scheduler tick and the polling for the end of the batch run in the bench process.`,
  );
  report.note(
    `Latency runs: the sandbox adds ${o.latencyMs} ms to every call; at each WORKER_CONCURRENCY the bare worker and the pipeline ran in ABBA order${o.repeat > 1 ? ` ${o.repeat} times over` : ""} (the fastest of each counted) on max(${o.latencyGrants}, 30 × concurrency) grants. ` +
      `Ideal: each job makes its calls in ${rounds} sequential rounds — 1 events page, then ${o.meetings} sends ${o.jobConcurrency} at a time — each taking at least ${o.latencyMs} ms, so ideal jobs/s = WORKER_CONCURRENCY / ${(rounds * o.latencyMs) / 1000} s; a worker reaches it only while its CPU keeps up (the zero-latency batch above is the CPU bound). ` +
      `Peak RSS is the worker process' VmHWM over its whole life (start-up included); the dyno is 512 MB.`,
  );
  report.note(
    `Round trips: "Postgres statements" counts transactions committed in the bench database during the batch (pg_stat_database.xact_commit; every statement of the worker and of the bench's tick is its own transaction), per job; "Redis commands" is the INFO commandstats delta per job, which counts the commands run inside Lua scripts too (a limiter token is one EVALSHA and a few GET/SET/TIME inside it) and includes the bench's own polling of the queue.`,
  );
  return pipe;
}

function bareClientNote(client: BareClient): string {
  return client === "sdk"
    ? "The bare worker calls Nylas through the official SDK (`events.list`, `messages.send`), as a bare worker would; the pipeline through its own client (src/nylas/client.ts), whose events page and send are decoded without the SDK's key conversion (`--bare-client lean` gives the bare worker that client too, measuring the pipeline's machinery alone)."
    : "Both call Nylas through the pipeline's client (src/nylas/client.ts: the events page and the send decoded without the SDK's key conversion), so the comparison measures the pipeline's machinery alone (`--bare-client lean`; the default gives the bare worker the official SDK's calls).";
}
