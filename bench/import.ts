/**
 * Benchmark 5: the bulk import (`npm run grants:import`, the real CLI as a child process)
 * of an N-row CSV against the sandbox's custom authentication at its 50/s application-wide
 * limit. From the sandbox's request log: requests/s over the run and the most in any sliding
 * one-second window, 429s; the CLI's peak RSS; a second run of the same file (requests, time);
 * and the check pass (`--dry-run`) over 10× the rows, whose RSS says whether memory stays flat.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { providerRefreshToken } from "nylas-sandbox";
import { freshDatabase } from "../harness/database.js";
import { deletePrefix, REDIS_URL } from "./lib/infra.js";
import { peakRssOfPid, ROOT } from "./lib/proc.js";
import type { Reporter } from "./lib/report.js";
import type { SandboxProcess } from "./lib/sandbox.js";
import { maxInWindow } from "./limits.js";

export interface ImportBenchOptions {
  rows: number;
  /** Rows of the file only checked (--dry-run), for the memory figure. */
  checkRows: number;
  rate: number;
  concurrency: number;
}

const PREFIX = "nrbench_import";
const LIMIT = 50;

interface CliRun {
  code: number | null;
  stdout: string;
  seconds: number;
  peakRssMb: number;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "jobs", "grants-import.ts"), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, peakRssOfPid(child.pid) ?? 0)), 200);
    child.stdout.on("data", (c) => (stdout += String(c)));
    child.stderr.on("data", (c) => process.stdout.write(`   | ${String(c).trimEnd()}\n`));
    child.on("close", (code) => {
      clearInterval(watch);
      resolve({ code, stdout, seconds: (performance.now() - t0) / 1000, peakRssMb: peak });
    });
  });
}

async function writeRows(path: string, rows: number, tag: string): Promise<void> {
  const out = createWriteStream(path);
  out.write("provider,email,refresh_token,time_zone,send_hour\n");
  for (let i = 0; i < rows; i++) {
    const email = `user${i}.${tag}@bench.example.com`;
    const provider = i % 3 === 0 ? "microsoft" : "google";
    const line = `${provider},${email},${providerRefreshToken(provider, email)},Europe/Berlin,${i % 24}\n`;
    if (!out.write(line)) await new Promise((r) => out.once("drain", r));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export async function runImportBench(
  sandbox: SandboxProcess,
  redis: Redis,
  o: ImportBenchOptions,
  report: Reporter,
): Promise<void> {
  report.section("5. Bulk import (custom authentication)");
  await sandbox.reset();
  await sandbox.setLimits({ authRequestsPerSecond: LIMIT });
  await deletePrefix(redis, PREFIX);
  // Its own database: other benchmarks (or another checkout's) recreate reminders_bench.
  const url = await freshDatabase("reminders_bench_import");
  const dir = mkdtempSync(join(tmpdir(), "bench-import-"));
  const env = {
    DATABASE_URL: url,
    REDIS_URL,
    NYLAS_API_URI: sandbox.url,
    NYLAS_API_KEY: sandbox.apiKey,
    QUEUE_PREFIX: PREFIX,
  };
  try {
    const file = join(dir, "users.csv");
    await writeRows(file, o.rows, "a");
    report.progress(`importing ${o.rows} rows at --rate ${o.rate}, --concurrency ${o.concurrency}`);
    await sandbox.clearLogs();
    const first = await runCli([file, "--rate", String(o.rate), "--concurrency", String(o.concurrency)], env);
    if (first.code !== 0) throw new Error(`grants:import exited ${first.code}: ${first.stdout.slice(-500)}`);
    const log = await sandbox.requests("connect.custom");
    const at = log.map((e) => e.at).sort((a, b) => a - b);
    const spanS = (at[at.length - 1]! - at[0]!) / 1000;
    const limited = log.filter((e) => e.status === 429).length;
    const created = /^created\s+(\d+)$/m.exec(first.stdout)?.[1];
    report.figure({
      name: `requests/s to POST /v3/connect/custom over the run (${o.rows} rows, --rate ${o.rate})`,
      value: log.length / Math.max(spanS, 0.001),
      unit: "req/s",
      baseline: LIMIT,
      baselineName: "Nylas' application limit",
      target: { kind: "value<=", value: LIMIT },
    });
    report.figure({
      name: "most requests in any sliding one-second window",
      value: maxInWindow(at),
      unit: "req",
      baseline: LIMIT,
      baselineName: "Nylas' application limit",
    });
    report.figure({
      name: "429s from the sandbox's 50/s limit",
      value: limited,
      unit: "",
      baseline: undefined,
      baselineName: "",
    });
    report.figure({ name: "import wall time", value: first.seconds, unit: "s", baseline: undefined, baselineName: "" });
    report.figure({
      name: "grants:import peak RSS",
      value: first.peakRssMb,
      unit: "MB",
      baseline: undefined,
      baselineName: "",
    });
    report.note(`first run: ${created ?? "?"} created; ${log.length} requests, ${limited} answered 429`);

    await sandbox.clearLogs();
    const second = await runCli([file, "--rate", String(o.rate)], env);
    const again = (await sandbox.requests("connect.custom")).length;
    report.figure({
      name: "second run of the same file: requests to Nylas",
      value: again,
      unit: "req",
      baseline: undefined,
      baselineName: "",
      target: { kind: "value<=", value: 0 },
    });
    report.figure({
      name: "second run wall time",
      value: second.seconds,
      unit: "s",
      baseline: undefined,
      baselineName: "",
    });

    const small = join(dir, "check-small.csv");
    const big = join(dir, "check-big.csv");
    await writeRows(small, o.rows, "s");
    await writeRows(big, o.checkRows, "b");
    const checkSmall = await runCli([small, "--dry-run"], env);
    const checkBig = await runCli([big, "--dry-run"], env);
    report.figure({
      name: `--dry-run peak RSS, ${o.checkRows} rows`,
      value: checkBig.peakRssMb,
      unit: "MB",
      baseline: checkSmall.peakRssMb,
      baselineName: `${o.rows} rows`,
    });
    report.figure({
      name: `--dry-run of ${o.checkRows} rows`,
      value: checkBig.seconds,
      unit: "s",
      baseline: undefined,
      baselineName: "",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(redis, PREFIX);
  }
}
