// `npm run chaos` — the chaos suite of issue 5: eight kinds of trouble, each during a full
// nightly batch, each judged by the same invariants. Exit 0 only if every scenario passed.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PrivatePostgres } from "../harness/postgres-server.js";
import { PrivateRedis } from "../harness/redis-server.js";
import { killAllWorkers, type ChaosSettings, type ScenarioResult } from "./batch.js";
import { SCENARIOS } from "./scenarios.js";
import { mulberry32 } from "nylas-sandbox";

const usage = `usage: npm run chaos -- [--grants N] [--only name[,name]] [--seed N] [--workers N] [--kills N] [--outage-s N] [--timeout-s N]
  scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

function intArg(value: string | undefined, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    fail(`--${name} must be a whole number from ${min} to ${max}`);
  return Number(value);
}

let args;
try {
  args = parseArgs({
    options: {
      grants: { type: "string" },
      only: { type: "string" },
      seed: { type: "string" },
      workers: { type: "string" },
      kills: { type: "string" },
      "outage-s": { type: "string" },
      "timeout-s": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  fail((err as Error).message.split("\n")[0]!);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const grants = intArg(args.grants, "grants", 2000, 10, 20_000);
const seed = intArg(args.seed, "seed", 1, 0, 2 ** 31 - 1);
const workers = intArg(args.workers, "workers", 3, 2, 16);
const kills = intArg(args.kills, "kills", 20, 1, 1000);
const outageS = intArg(args["outage-s"], "outage-s", 30, 1, 600);
const timeoutS = intArg(args["timeout-s"], "timeout-s", 900, 30, 86_400);
const names = args.only === undefined ? SCENARIOS.map((s) => s.name) : args.only.split(",").map((s) => s.trim());
for (const n of names)
  if (!SCENARIOS.some((s) => s.name === n))
    fail(`--only: unknown scenario "${n.slice(0, 40)}" (one of ${SCENARIOS.map((s) => s.name).join(", ")})`);

const redisPort = intArg(process.env.CHAOS_REDIS_PORT, "CHAOS_REDIS_PORT (env)", 6390, 1024, 65_535);
const logDir = join(tmpdir(), `nr-chaos-${new Date().toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(logDir, { recursive: true });
const pgPort = intArg(process.env.CHAOS_PG_PORT, "CHAOS_PG_PORT (env)", 5440, 1024, 65_535);
const redis = new PrivateRedis({ port: redisPort, dir: logDir });
const postgres = new PrivatePostgres({ port: pgPort, dir: join(tmpdir(), `nr-chaos-pg-${pgPort}`) });
const settings: ChaosSettings = {
  grants,
  seed,
  redisUrl: redis.url,
  pgServerUrl: postgres.url,
  workers,
  concurrency: 25,
  kills,
  sendKills: 5,
  outageMs: outageS * 1000,
  keyOutageMs: 60_000,
  timeoutMs: timeoutS * 1000,
  logDir,
  dbPrefix: "chaos",
};

process.stdout.write(
  `Chaos suite: ${grants} grants per batch, ${workers} worker processes, seed ${seed}, private Redis on port ${redisPort} and Postgres on port ${pgPort}; logs in ${logDir}\n`,
);
const results: ScenarioResult[] = [];
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAllWorkers();
    void Promise.all([redis.stop(), postgres.stop()]).finally(() => process.exit(130));
  });
}
try {
  await redis.start();
  await postgres.start();
} catch (err) {
  process.stderr.write(`chaos: cannot start a private Redis/Postgres: ${(err as Error).message}\n`);
  await redis.stop();
  process.exit(1);
}
const random = mulberry32(seed);
for (const scenario of SCENARIOS.filter((s) => names.includes(s.name))) {
  const n = SCENARIOS.indexOf(scenario) + 1;
  const r = await scenario.run({ settings, redis, random });
  results.push(r);
  const figures = Object.entries(r.figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  process.stdout.write(
    `${r.ok ? "PASS" : "FAIL"} ${n}. ${r.name.padEnd(10)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${scenario.title}: ${figures}\n`,
  );
  for (const p of r.problems) process.stdout.write(`       - ${p}\n`);
}
await redis.stop();
await postgres.stop();
const failed = results.filter((r) => !r.ok).length;
process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
