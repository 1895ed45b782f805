// `npm run demo` — one complete nightly batch against the local Nylas sandbox.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.js";
import { createLogger } from "../src/log/logger.js";
import { runDemo, RedisUnavailable, type DemoSummary } from "./nightly-demo.js";
import { describeReport } from "../harness/deliveries.js";
import { DEFAULT_API_KEY } from "nylas-sandbox";

const usage = `usage: npm run demo -- [--grants N] [--expire N] [--timeout-s N]
  --grants N     seeded grants across many time zones (default 25, 1-5000)
  --expire N     grants whose access is revoked after the sync, to show re-auth (default 1)
  --timeout-s N  give up waiting for the batch after N seconds (default 300)`;

function fail(message: string, code = 2): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(code);
}

function intArg(value: string | undefined, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    fail(`--${name} must be a whole number from ${min} to ${max}\n${usage}`);
  return Number(value);
}

let args;
try {
  args = parseArgs({
    options: {
      grants: { type: "string" },
      expire: { type: "string" },
      "timeout-s": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(`${(err as Error).message}\n${usage}`);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const grants = intArg(args.grants, "grants", 25, 1, 5000);
const expire = intArg(args.expire, "expire", 1, 0, grants);
const timeoutS = intArg(args["timeout-s"], "timeout-s", 300, 1, 86_400);

let config;
try {
  // The sandbox supplies the API key and URI; everything else is the user's environment.
  config = loadConfig({ LOG_LEVEL: "warn", QUEUE_PREFIX: "demo", ...process.env, NYLAS_API_KEY: DEFAULT_API_KEY });
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}
const log = createLogger({ name: "demo", level: config.LOG_LEVEL }, process.stderr as never);

let summary: DemoSummary;
try {
  process.stdout.write(
    `Nightly batch: ${grants} sandbox grants, ${config.DATABASE_URL ? "Postgres at DATABASE_URL" : "embedded Postgres (PGlite)"}, Redis at ${config.REDIS_URL.replace(/\/\/[^@/]*@/, "//")}\n`,
  );
  summary = await runDemo(config, log, { grants, expireDuringRun: expire, timeoutMs: timeoutS * 1000 });
} catch (err) {
  if (err instanceof RedisUnavailable) fail(err.message, 1);
  fail(`the batch did not finish: ${(err as Error).message}`, 1);
}

const s = summary;
const rows: [string, string | number][] = [
  [
    "grants synced",
    `${s.sync.seen} (${s.sync.needsReauth} already needing re-auth, ${s.sync.zoneFallbacks} on the default zone)`,
  ],
  ["runs enqueued", `${s.tick.enqueued}${s.cases.delayed ? " by the tick, and the delayed job" : ""}`],
  [
    "runs by status",
    Object.entries(s.runs)
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
  ],
  ["events read", s.meetings],
  ["messages sent", `${s.sent} (a meeting whose guest list is hidden: one message per guest)`],
  ["messages failed", s.failed],
  [
    "skipped",
    Object.entries(s.skipped)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none",
  ],
  [
    "needs re-auth",
    `${s.needsReauth.length} grant(s)${s.needsReauth.length ? `: ${s.needsReauth.slice(0, 3).join(", ")}${s.needsReauth.length > 3 ? ", …" : ""}` : ""}`,
  ],
  [
    "cases",
    `policy "all" on ${Object.keys(s.cases.policy).length} grant(s), ${s.cases.suppressed.length} recipient(s) opted out, ` +
      `${s.cases.delayed ? "1 job delayed by a day" : "no delayed job"}`,
  ],
  ["check", describeReport(s.report)],
  [
    "after the run",
    `1 meeting moved and 1 cancelled: ${s.afterTheRun.reruns} re-run(s), ${s.afterTheRun.movedNotices} reminder(s) ` +
      `saying it moved, ${s.afterTheRun.cancelNotices} cancellation notice(s); ` +
      `check: ${s.afterTheRun.ok ? "ok" : s.afterTheRun.problems.join("; ")}`,
  ],
  ["took", `${(s.ms / 1000).toFixed(1)} s`],
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n")}\n`);
process.stdout.write("By provider:\n");
const pw = Math.max(...s.providers.map((l) => l.provider.length));
for (const l of s.providers) {
  const zones = Object.entries(l.zoneSources)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const night = l.notScheduled
    ? `not scheduled: ${l.notScheduled.replace(/^has no calendar/, "no calendar")}`
    : `runs ${l.runs}, local days from ${l.dayOffsets.join(" ")}, sent ${l.sent}, uncertain ${l.uncertain}, ` +
      `check: ${l.report.ok ? `ok (${l.report.expected} expected)` : describeReport(l.report)}`;
  process.stdout.write(`  ${l.provider.padEnd(pw)}  ${l.grants} grant(s); zone from ${zones}; ${night}\n`);
}
process.stdout.write(
  `Where to look: QUEUE_PREFIX=${config.QUEUE_PREFIX} npm run web, then Bull Board at http://localhost:${config.PORT}/admin/queues\n`,
);
process.exit(s.report.ok && s.afterTheRun.ok ? 0 : 1);
