/**
 * `npm run bench`: the four benchmarks of issue 5, each figure next to a baseline measured
 * in the same run; prints figures as it goes and writes BENCHMARKS.md (full runs) or
 * bench/out/BENCHMARKS.partial.md (--quick / --only), plus the scaling plot.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, totalmem, release, type } from "node:os";
import { join, relative, dirname } from "node:path";
import { DEFAULT_WORKER_CONCURRENCY } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";
import { createRedis } from "../src/redis/connection.js";
import { freshDatabase } from "../harness/database.js";
import { runBatchBench } from "./batch.js";
import type { BareClient, BatchResult } from "./lib/batch.js";
import { benchName, REDIS_URL, pgVersion, redisVersion } from "./lib/infra.js";
import { ROOT } from "./lib/proc.js";
import { renderMarkdown, Reporter, withKeptSections, type MachineInfo } from "./lib/report.js";
import { SandboxProcess } from "./lib/sandbox.js";
import { runImportBench } from "./import.js";
import { runLimits } from "./limits.js";
import { runScaling } from "./scaling.js";
import { runScheduling } from "./scheduling.js";

const BENCHES = ["scheduling", "batch", "limits", "scaling", "import"] as const;
type Bench = (typeof BENCHES)[number];

const USAGE =
  "usage: npm run bench -- [--quick] [--only scheduling,batch,limits,scaling,import] [--grants N] [--batch-grants N] [--latency-grants N] [--limits-grants N] [--scaling N,N,N] [--concurrency N] [--latency-concurrency N,N,N] [--repeat N] [--bare-client sdk|lean] [--import-rows N] [--cpu-prof] [--heap-prof] [--reuse-batch] [--out FILE]";

function fail(message: string): never {
  process.stderr.write(`bench: ${message} (npm run bench -- --help)\n`);
  process.exit(2);
}

interface Flags {
  quick: boolean;
  only: Bench[];
  grants?: number;
  batchGrants?: number;
  latencyGrants?: number;
  limitsGrants?: number;
  importRows?: number;
  scaling?: number[];
  concurrency?: number;
  latencyConcurrency?: number[];
  /** ABBA rounds of each batch comparison. */
  repeat?: number;
  /** How benchmark 2's bare worker calls Nylas. */
  bareClient: BareClient;
  cpuProf: boolean;
  heapProf: boolean;
  /** Reuse benchmark 2's batch as the scaling point of the same size. */
  reuse: boolean;
  out?: string;
}

function positiveInt(flag: string, v: string | undefined, max: number): number {
  if (v === undefined || !/^\d+$/.test(v))
    fail(`${flag} needs a whole number, got ${v === undefined ? "nothing" : JSON.stringify(v)}`);
  const n = Number(v);
  if (n < 1 || n > max) fail(`${flag} must be between 1 and ${max}, got ${n}`);
  return n;
}

export function parseFlags(argv: string[]): Flags {
  const f: Flags = {
    quick: false,
    only: [...BENCHES],
    cpuProf: false,
    heapProf: false,
    reuse: false,
    bareClient: "sdk",
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let v: string | undefined;
    if (a.startsWith("--") && a.includes("=")) {
      v = a.slice(a.indexOf("=") + 1);
      a = a.slice(0, a.indexOf("="));
    }
    const value = () => (v !== undefined ? v : argv[++i]);
    switch (a) {
      case "--quick":
        f.quick = true;
        break;
      case "--cpu-prof":
        f.cpuProf = true;
        break;
      case "--heap-prof":
        // The workers' allocations too (sampled, collected objects included), beside the CPU profiles.
        f.cpuProf = true;
        f.heapProf = true;
        break;
      case "--bare-client": {
        const c = value();
        if (c !== "sdk" && c !== "lean") fail(`--bare-client must be sdk or lean, got ${JSON.stringify(c ?? "")}`);
        f.bareClient = c;
        break;
      }
      case "--reuse-batch":
        f.reuse = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      case "--only": {
        const list = (value() ?? "").split(",").filter(Boolean);
        if (list.length === 0) fail(`--only needs one or more of ${BENCHES.join(", ")}`);
        for (const b of list)
          if (!(BENCHES as readonly string[]).includes(b))
            fail(`--only: unknown benchmark "${b}" (known: ${BENCHES.join(", ")})`);
        f.only = list as Bench[];
        break;
      }
      case "--import-rows":
        f.importRows = positiveInt(a, value(), 1_000_000);
        break;
      case "--grants":
        f.grants = positiveInt(a, value(), 1_000_000);
        break;
      case "--repeat":
        f.repeat = positiveInt(a, value(), 10);
        break;
      case "--batch-grants":
        f.batchGrants = positiveInt(a, value(), 200_000);
        break;
      case "--latency-grants":
        f.latencyGrants = positiveInt(a, value(), 200_000);
        break;
      case "--limits-grants":
        f.limitsGrants = positiveInt(a, value(), 10_000);
        break;
      case "--concurrency":
        f.concurrency = positiveInt(a, value(), 1000);
        break;
      case "--latency-concurrency": {
        const raw = value();
        f.latencyConcurrency = (raw ?? "").split(",").map((c) => positiveInt("--latency-concurrency", c, 1000));
        break;
      }
      case "--scaling": {
        const raw = value();
        const sizes = (raw ?? "").split(",").map((s) => positiveInt("--scaling", s, 200_000));
        if (sizes.length < 2) fail("--scaling needs at least two sizes, e.g. 1000,10000,50000");
        f.scaling = sizes.sort((x, y) => x - y);
        break;
      }
      case "--out": {
        const o = value();
        if (!o || o.startsWith("--")) fail("--out needs a file name");
        f.out = o;
        break;
      }
      default:
        fail(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  return f;
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const q = flags.quick;
  const sizes = {
    schedGrants: flags.grants ?? (q ? 5_000 : 100_000),
    batchGrants: flags.batchGrants ?? (q ? 300 : 10_000),
    latencyGrants: flags.latencyGrants ?? (q ? 100 : 1_500),
    limitsGrants: flags.limitsGrants ?? (q ? 40 : 120),
    importRows: flags.importRows ?? (q ? 500 : 10_000),
    scaling: flags.scaling ?? (q ? [100, 300, 600] : [1_000, 10_000, 50_000]),
    concurrency: flags.concurrency ?? DEFAULT_WORKER_CONCURRENCY,
    latencyConcurrency: flags.latencyConcurrency ?? (q ? [20, 100] : [20, 100, 200]),
  };
  const partial = q || flags.only.length < BENCHES.length;
  const outPath = flags.out ?? (partial ? join(ROOT, "bench/out/BENCHMARKS.partial.md") : join(ROOT, "BENCHMARKS.md"));
  const plotPath = partial ? join(ROOT, "bench/out/bench-scaling.png") : join(ROOT, "docs/bench-scaling.png");
  mkdirSync(dirname(outPath), { recursive: true });
  mkdirSync(dirname(plotPath), { recursive: true });
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;

  const startedAt = new Date();
  const t0 = performance.now();
  const redis = createRedis(REDIS_URL, { connectionName: "nr-bench", maxRetriesPerRequest: 3 });
  const infoUrl = await freshDatabase(benchName("reminders_bench"));
  const infoDb = await createPrisma(infoUrl, { max: 1 });
  const machine: MachineInfo = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGb: totalmem() / 1024 ** 3,
    os: `${type()} ${release()}`,
    node: process.version,
    redis: await redisVersion(redis),
    postgres: await pgVersion(infoDb),
    bullmq: version("bullmq"),
    prisma: version("@prisma/client"),
  };
  await infoDb.$disconnect();
  const loadStart = loadavg()[0]!;
  process.stdout.write(
    `bench: ${machine.cpu} × ${machine.cores}, Node ${machine.node}, Redis ${machine.redis}, Postgres ${machine.postgres}; load ${loadStart.toFixed(2)}; ${JSON.stringify(sizes)}\n`,
  );

  const report = new Reporter();
  const profileDir = flags.cpuProf ? join(ROOT, "bench/out/prof") : undefined;
  let sandbox: SandboxProcess | undefined;
  try {
    if (flags.only.includes("scheduling"))
      await runScheduling(
        { grants: sizes.schedGrants, smallGrants: Math.max(1, Math.round(sizes.schedGrants / 4)), chunk: 1000 },
        report,
      );
    if (flags.only.some((b) => b !== "scheduling"))
      sandbox = await SandboxProcess.start(Math.max(1_000_000, Math.max(...sizes.scaling) * 7));
    let tenK: BatchResult | undefined;
    const timeoutMs = 40 * 60_000;
    if (flags.only.includes("batch"))
      tenK = await runBatchBench(
        sandbox!,
        redis,
        {
          grants: sizes.batchGrants,
          meetings: 5,
          latencyGrants: sizes.latencyGrants,
          latencyMs: 100,
          latencyConcurrencies: sizes.latencyConcurrency,
          latencyTargetConcurrency: 100,
          defaultConcurrency: DEFAULT_WORKER_CONCURRENCY,
          concurrency: sizes.concurrency,
          jobConcurrency: 4,
          timeoutMs,
          profileDir,
          heapProf: flags.heapProf,
          bareClient: flags.bareClient,
          repeat: flags.repeat ?? 1,
        },
        report,
      );
    if (flags.only.includes("limits"))
      await runLimits(
        sandbox!,
        redis,
        { grants: sizes.limitsGrants, meetings: 20, workers: 4, concurrency: 10, sendsPerSecond: 2, timeoutMs },
        report,
      );
    if (flags.only.includes("scaling"))
      await runScaling(
        sandbox!,
        redis,
        {
          sizes: sizes.scaling,
          meetings: 5,
          concurrency: sizes.concurrency,
          jobConcurrency: 4,
          timeoutMs,
          plotPath,
          plotRelative: relative(dirname(outPath), plotPath),
          known: flags.reuse ? tenK : undefined,
        },
        report,
      );
    if (flags.only.includes("import"))
      await runImportBench(
        sandbox!,
        redis,
        { rows: sizes.importRows, checkRows: sizes.importRows * 10, rate: 50, concurrency: 16 },
        report,
      );
  } finally {
    await sandbox?.stop();
    await redis.quit();
  }

  const totalS = (performance.now() - t0) / 1000;
  const loadEnd = loadavg()[0]!;
  const md = renderMarkdown({ report, machine, command, startedAt, totalS, quick: q }).replace(
    "## Summary",
    `Load average (1 min) was ${loadStart.toFixed(2)} when the run started and ${loadEnd.toFixed(2)} when it ended, on ${machine.cores} cores: other processes on the machine take CPU from the absolute figures, less so from the ratios, whose two sides ran minutes apart.\n\n## Summary`,
  );
  let previous: string | undefined;
  try {
    previous = readFileSync(outPath, "utf8");
  } catch {
    previous = undefined;
  }
  writeFileSync(outPath, withKeptSections(md, previous));
  process.stdout.write(`\nbench: wrote ${relative(ROOT, outPath)} in ${(totalS / 60).toFixed(1)} min\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
