// `npm run grants:import -- --help` — create grants for existing users from the credentials the
// application holds (Nylas custom authentication), without a new sign-in (one-off dyno).
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { requireSettings, redisTls, type Config } from "../src/config.js";
import { createPrisma, type Db } from "../src/db/client.js";
import { IMPORT_EXIT, IMPORT_USAGE, ImportUsageError, parseImportArgs } from "../src/grants/import/args.js";
import { runImportCommand, type ImportDeps, type ImportIo } from "../src/grants/import/command.js";
import type { Logger } from "../src/log/logger.js";
import { NylasApi } from "../src/nylas/client.js";
import { GrantLimiter } from "../src/nylas/grant-limiter.js";
import { readCommandArgs, runProcess, type Running } from "../src/process.js";
import { createRedis } from "../src/redis/connection.js";
import { createRunsQueue } from "../src/runs/queue.js";

/**
 * The key of the application's budget for Nylas' authentication routes in the grant limiter:
 * one budget for the whole application, whichever import takes from it.
 */
const APP_AUTH_BUDGET = "app:auth";

const args = readCommandArgs("grants:import", parseImportArgs, {
  usage: IMPORT_USAGE,
  usageExit: IMPORT_EXIT.usage,
  UsageError: ImportUsageError,
});
/** FILE "-": standard input, kept in a private temporary file for the two passes, deleted after. */
const fromStdin = args.file === "-" ? await stdinToFile() : undefined;
if (fromStdin) args.file = fromStdin.file;

// Logs are for trouble only; the command's own output is the tables and the progress.
process.env.LOG_LEVEL ??= "warn";

const io: ImportIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: { isTTY: process.stderr.isTTY === true, write: (text) => process.stderr.write(text) },
};

await runProcess("grants-import", startImport);

async function startImport(config: Config, log: Logger): Promise<Running> {
  if (args.dryRun) {
    const code = await runImportCommand(args, io);
    await exitWhenWritten(code, log);
  }
  requireSettings(config, ["DATABASE_URL"], "for grants:import");
  const db: Db = await createPrisma(config.DATABASE_URL, { max: Math.min(20, args.concurrency + 2) });
  const redis = createRedis(config.REDIS_URL, { connectionName: "nr-grants-import", ...redisTls(config) }, log);
  const runsQueue = createRunsQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, log });
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
  });
  const rate = { perSecond: args.rate, serial: false };
  const budget = new GrantLimiter(redis, { prefix: config.QUEUE_PREFIX, read: rate, send: rate }).forGrant(
    APP_AUTH_BUDGET,
    { maxWaitMs: Number.POSITIVE_INFINITY },
  );
  const abort = new AbortController();
  const deps: ImportDeps = {
    db,
    nylas,
    budget,
    log,
    signal: abort.signal,
    authorised: {
      db,
      nylas,
      runsQueue,
      log,
      settings: { defaultTimeZone: config.DEFAULT_TIME_ZONE, defaultSendHour: config.DEFAULT_SEND_HOUR },
    },
  };
  let closed = false;
  const shutDown = async () => {
    if (closed) return;
    closed = true;
    await runsQueue.close().catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
    await db.$disconnect();
  };
  const work = runImportCommand(args, io, deps).catch((err: unknown) => {
    log.error({ err }, "grants:import failed");
    return IMPORT_EXIT.failed;
  });
  void work.then(async (code) => {
    if (abort.signal.aborted) return; // the signal's shutdown exits
    await shutDown();
    await exitWhenWritten(code, log);
  });
  return {
    // Ctrl-C, SIGTERM: no new row starts; the rows under way finish and are reported.
    close: async () => {
      abort.abort();
      const code = await work;
      await shutDown();
      if (fromStdin) rmSync(fromStdin.dir, { recursive: true, force: true });
      await new Promise<void>((r) => process.stdout.write("", () => r()));
      return code;
    },
  };
}

/** Copies standard input to a file only this user can read (a one-off dyno has no other way in). */
async function stdinToFile(): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), "grants-import-"));
  const file = join(dir, "input");
  await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
  return { dir, file };
}

async function exitWhenWritten(code: number, log: Logger): Promise<never> {
  if (fromStdin && existsSync(`${fromStdin.file}.report.jsonl`)) {
    // The report would vanish with the dyno: it follows the summary on stdout (no credentials in it).
    const report = `${fromStdin.file}.report.jsonl`;
    process.stdout.write("report (JSON Lines):\n");
    await pipeline(createReadStream(report), process.stdout, { end: false }).catch(() => {});
  }
  if (fromStdin) rmSync(fromStdin.dir, { recursive: true, force: true });
  await new Promise<void>((r) => log.flush(() => r()));
  await new Promise<void>((r) => process.stdout.write("", () => r()));
  process.exit(code);
}
