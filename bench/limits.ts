/**
 * Benchmark 3: four real worker processes (jobs/worker.ts) on one queue, every grant on a
 * 2 sends/s budget at the sandbox and in the workers. From the sandbox's request log: the
 * most sends of any grant in any sliding one-second window, 429s, and total throughput
 * next to the sum of the budgets the worker slots can use at once.
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import { createPrisma } from "../src/db/client.js";
import { createLogger } from "../src/log/logger.js";
import { createRunsQueue } from "../src/runs/queue.js";
import { schedulerTick } from "../src/runs/scheduler.js";
import { freshDatabase } from "../harness/database.js";
import { WorkerFleet } from "../harness/fleet.js";
import { prepareSandbox } from "./lib/batch.js";
import { benchName, deletePrefix, insertGrants, REDIS_URL, waitDrained, waitWorkers } from "./lib/infra.js";
import { ROOT } from "./lib/proc.js";
import type { Reporter } from "./lib/report.js";
import type { SandboxProcess } from "./lib/sandbox.js";

export interface LimitsOptions {
  grants: number;
  meetings: number;
  workers: number;
  concurrency: number;
  sendsPerSecond: number;
  timeoutMs: number;
}

const PREFIX = benchName("nrbench_limits");

/** Most entries of any sliding window [t, t + windowMs) over sorted times. */
export function maxInWindow(sorted: number[], windowMs = 1000): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

export async function runLimits(
  sandbox: SandboxProcess,
  redis: Redis,
  o: LimitsOptions,
  report: Reporter,
): Promise<void> {
  report.section("3. Per-grant limits under load");
  const now = new Date();
  const grants = await prepareSandbox(sandbox, {
    grants: o.grants,
    meetings: o.meetings,
    now,
    latencyMs: 0,
    limits: { requestsPerSecond: 200, sendsPerSecond: { google: o.sendsPerSecond } },
  });
  const url = await freshDatabase(benchName("reminders_bench"));
  const db = await createPrisma(url, { max: 5 });
  await insertGrants(
    db,
    grants.map((g) => ({ id: g.id, email: g.email, provider: g.provider, timeZone: g.zone })),
  );
  await deletePrefix(redis, PREFIX);
  const queue = createRunsQueue(redis, { prefix: PREFIX, attempts: 8 });
  const fleet = new WorkerFleet({
    count: o.workers,
    logDir: join(ROOT, "bench/out/logs/limits"),
    env: {
      DATABASE_URL: url,
      REDIS_URL,
      QUEUE_PREFIX: PREFIX,
      LOG_LEVEL: "warn",
      NYLAS_API_KEY: sandbox.apiKey,
      NYLAS_API_URI: sandbox.url,
      WORKER_CONCURRENCY: String(o.concurrency),
      RATE_SENDS_PER_SEC_GOOGLE: String(o.sendsPerSecond),
      SCHEDULER_EVERY_MS: "86400000",
    },
  });
  try {
    // Jobs first, then the workers: the batch starts when the first worker takes a job.
    const tick = await schedulerTick(db, queue, createLogger({ name: "bench", level: "warn" }), {
      now,
      pageSize: 1000,
      ignoreSendHour: true,
    });
    await sandbox.clearLogs();
    fleet.startAll();
    await waitWorkers(queue, o.workers, () =>
      Array.from({ length: o.workers }, (_, i) => fleet.alive(i)).every(Boolean),
    );
    await waitDrained(queue, o.timeoutMs);

    const sends = await sandbox.requests("messages.send");
    const byGrant = new Map<string, number[]>();
    for (const s of sends) {
      if (!s.grantId) continue;
      const arrival = s.at - s.ms;
      const list = byGrant.get(s.grantId) ?? [];
      list.push(arrival);
      byGrant.set(s.grantId, list);
    }
    let worst = 0;
    let grantsOver = 0;
    let worstGaps: number[] = [];
    let minGap = Infinity;
    for (const list of byGrant.values()) {
      list.sort((a, b) => a - b);
      const m = maxInWindow(list);
      for (let i = 1; i < list.length; i++) minGap = Math.min(minGap, list[i]! - list[i - 1]!);
      if (m > worst) worstGaps = list.slice(1).map((t, i) => Math.round(t - list[i]!));
      worst = Math.max(worst, m);
      if (m > o.sendsPerSecond) grantsOver++;
    }
    report.progress(
      `smallest gap between two sends of one grant: ${minGap} ms; gaps (ms) of the worst grant: ${worstGaps.join(" ")}`,
    );
    const ok = sends.filter((s) => s.status === 200);
    const limited = sends.filter((s) => s.status === 429).length;
    const first = Math.min(...ok.map((s) => s.at - s.ms));
    const last = Math.max(...ok.map((s) => s.at));
    const spanS = (last - first) / 1000;
    const throughput = ok.length / spanS;
    const slots = o.workers * o.concurrency;
    const bound = Math.min(o.grants, slots) * o.sendsPerSecond;
    const failed = (await queue.getJobCounts("failed")).failed ?? 0;
    const ledgerSent = await db.reminder.count({ where: { status: "sent" } });
    report.progress(
      `${ok.length} sends (${limited} 429s) in ${spanS.toFixed(1)} s = ${throughput.toFixed(1)} sends/s; worst grant window ${worst}; ledger sent ${ledgerSent}/${o.grants * o.meetings}; failed jobs ${failed}; tick enqueued ${tick.enqueued}`,
    );
    if (ledgerSent !== o.grants * o.meetings)
      report.note(`PROBLEM: ledger has ${ledgerSent} sent for ${o.grants * o.meetings} expected`);
    if (failed > 0) report.note(`PROBLEM: ${failed} jobs failed`);

    report.figure({
      name: "Limits: max sends of one grant in any sliding 1 s window",
      value: worst,
      unit: "sends",
      baseline: o.sendsPerSecond,
      baselineName: "budget per grant",
      target: { kind: "value<=", value: o.sendsPerSecond },
    });
    report.figure({
      name: "Limits: 429 responses from the sandbox",
      value: limited,
      unit: "",
      baseline: undefined,
      baselineName: "none expected",
      target: { kind: "value<=", value: 0 },
    });
    report.figure({
      name: `Limits: total sends/s (${o.workers} workers, ${o.grants} grants)`,
      value: throughput,
      unit: "sends/s",
      baseline: bound,
      baselineName: `min(${o.grants} grants, ${slots} slots) × ${o.sendsPerSecond}/s`,
      target: { kind: "ratio>=", value: 0.9 },
    });
    report.note(
      `${o.workers} worker processes (WorkerFleet running jobs/worker.ts, WORKER_CONCURRENCY=${o.concurrency} each, so ${slots} job slots) on one queue; ${o.grants} Google grants × ${o.meetings} meetings = ${o.grants * o.meetings} sends. ` +
        `The sandbox enforces ${o.sendsPerSecond} sends/s per Google grant (429 beyond) and the workers run with RATE_SENDS_PER_SEC_GOOGLE=${o.sendsPerSecond} and the defaults RATE_SEND_SERIAL=true, RATE_SEND_MARGIN_MS=0: one send of a grant in flight at a time, the next one ${1000 / o.sendsPerSecond} ms after the previous answer (so at most 1 / (${1000 / o.sendsPerSecond} ms + round trip) per grant). ` +
        `Windows are measured on the sandbox's arrival time of each send (log time minus handling time), sliding (every [t, t+1000 ms)), per grant. ${grantsOver} grants exceeded the budget in some window; the smallest gap between two arrivals of one grant's sends was ${minGap} ms (the limiter starts each send ${1000 / o.sendsPerSecond} ms after the previous one answered). ` +
        `The sum of the budgets is ${o.grants} × ${o.sendsPerSecond}/s = ${o.grants * o.sendsPerSecond}/s, but one job holds one slot while it spaces its grant's sends, so at most ${Math.min(o.grants, slots)} grants send at once: the bound is ${bound}/s. ` +
        `A job's first send needs no wait, so a job of ${o.meetings} sends takes (${o.meetings}−1)/${o.sendsPerSecond} s and the measured rate can slightly exceed the bound. ` +
        `The jobs were enqueued (one tick) before the workers started, and their own repeating ticks found nothing new to add.`,
    );
  } finally {
    await fleet.stopAll(15_000);
    await queue.close();
    await deletePrefix(redis, PREFIX).catch(() => 0);
    await db.$disconnect();
  }
}
