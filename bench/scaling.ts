/**
 * Benchmark 4: the pipeline batch at several sizes; wall time and the worker's peak RSS
 * must grow linearly or better. Writes the plot next to BENCHMARKS.md.
 */
import type { Redis } from "ioredis";
import { describeBatch, batchProblems, runBatch, type BatchResult } from "./lib/batch.js";
import { renderPlot } from "./lib/plot.js";
import type { Reporter } from "./lib/report.js";
import type { SandboxProcess } from "./lib/sandbox.js";

export interface ScalingOptions {
  sizes: number[];
  meetings: number;
  concurrency: number;
  jobConcurrency: number;
  timeoutMs: number;
  plotPath: string;
  plotRelative: string;
  /** Results already measured at some size in this run (benchmark 2), reused. */
  known?: BatchResult;
}

export async function runScaling(
  sandbox: SandboxProcess,
  redis: Redis,
  o: ScalingOptions,
  report: Reporter,
): Promise<void> {
  report.section("4. Scaling curve");
  const points: BatchResult[] = [];
  for (const n of o.sizes) {
    if (o.known && o.known.grants === n) {
      report.progress(`${n} grants: reusing benchmark 2's pipeline batch`);
      points.push(o.known);
      continue;
    }
    const r = await runBatch(sandbox, redis, {
      mode: "pipeline",
      grants: n,
      meetings: o.meetings,
      latencyMs: 0,
      concurrency: o.concurrency,
      jobConcurrency: o.jobConcurrency,
      sendRate: 1000,
      timeoutMs: o.timeoutMs,
      label: `scaling-${n}`,
    });
    report.progress(describeBatch(r));
    for (const p of batchProblems(r)) report.note(`PROBLEM at ${n} grants: ${p}`);
    points.push(r);
  }
  const smallest = points[0]!;
  const largest = points[points.length - 1]!;
  const perGrant = (r: BatchResult) => (r.wallS * 1000) / r.grants;
  report.figure({
    name: `Scaling: time per grant at ${largest.grants.toLocaleString("en")} vs ${smallest.grants.toLocaleString("en")} grants`,
    value: perGrant(largest),
    unit: "ms/grant",
    baseline: perGrant(smallest),
    baselineName: `at ${smallest.grants.toLocaleString("en")} grants`,
    target: { kind: "ratio<=", value: 1.15 },
  });
  const growth = largest.grants / smallest.grants;
  report.figure({
    name: `Scaling: worker peak RSS at ${largest.grants.toLocaleString("en")} vs ${smallest.grants.toLocaleString("en")} grants`,
    value: largest.workerPeakRssMb ?? NaN,
    unit: "MB",
    baseline: smallest.workerPeakRssMb,
    baselineName: `at ${smallest.grants.toLocaleString("en")} grants`,
    target: { kind: "ratio<=", value: growth },
  });
  report.extra(
    [
      "| Grants | Reminders | Wall s | ms per grant | Grants/s | Worker peak RSS MB | Sandbox CPU s | Worker CPU s |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...points.map(
        (r) =>
          `| ${r.grants.toLocaleString("en")} | ${r.sends.toLocaleString("en")} | ${r.wallS.toFixed(1)} | ${perGrant(r).toFixed(2)} | ${r.grantsPerS.toFixed(1)} | ${r.workerPeakRssMb?.toFixed(0)} | ${r.sandboxCpuS?.toFixed(1)} | ${r.workerCpuS?.toFixed(1)} |`,
      ),
    ].join("\n"),
  );
  const written = await renderPlot(
    o.plotPath,
    points.map((r) => ({ grants: r.grants, seconds: r.wallS, rssMb: r.workerPeakRssMb ?? 0 })),
  );
  if (written) report.extra(`![Batch time and worker peak RSS against grants](${o.plotRelative})`);
  else
    report.note(
      "The plot was not rendered: no Chromium found (set CHROMIUM_PATH); the SVG was written next to where the PNG would be.",
    );
  report.note(
    `"Linear or better" is checked as: time per grant at the largest size at most 1.15× the smallest size's (fixed start-up and tail costs make small batches slower per grant), and peak RSS growing by less than the number of grants does. ` +
      `The worker keeps nothing per grant in memory (one job at a time per slot), so its RSS should stay flat; the grants and jobs live in Postgres and Redis.`,
  );
}
