// `npm run backfill -- --help` — queue the nightly runs of past or missed days again (one-off dyno).
import { runProcess, type Running } from "../src/process.js";
import { EXIT, parseBackfillArgs, UsageError, USAGE, type BackfillArgs } from "../src/backfill/args.js";
import { BackfillError, type Output } from "../src/backfill/backfill.js";
import { runBackfill } from "../src/backfill/command.js";
import { readGrantsFile } from "../src/backfill/grants-file.js";
import { requireSettings, redisTls, type Config } from "../src/config.js";
import { createPrisma, type Db } from "../src/db/client.js";
import type { Logger } from "../src/log/logger.js";
import { createRunsQueue } from "../src/runs/queue.js";
import { createRedis } from "../src/redis/connection.js";

const args = await readArgs();

// Logs are for trouble only; the command's own output is the lines below.
process.env.LOG_LEVEL ??= "warn";

const out = stdoutOutput();

await runProcess("backfill", startBackfill);

/** Opens Postgres (and Redis, unless a dry run), runs the command, exits with its code once the output is out. */
async function startBackfill(config: Config, log: Logger): Promise<Running> {
  requireSettings(config, ["DATABASE_URL"], "for a backfill");
  const db: Db = await createPrisma(config.DATABASE_URL, { max: 4 });
  const redis = args.dryRun
    ? undefined
    : createRedis(config.REDIS_URL, { connectionName: "nr-backfill", ...redisTls(config) }, log);
  const queue = redis
    ? createRunsQueue(redis, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, log })
    : undefined;
  const abort = new AbortController();
  let closed = false;
  let finished = false;
  const close = async (): Promise<number | void> => {
    if (closed) return;
    closed = true;
    // Interrupted (Ctrl-C, SIGTERM) before the command finished: say so, exit 130 like a
    // shell. What was queued stays queued; the worker dyno runs it.
    const interrupted = !finished;
    if (interrupted) out.line("backfill: interrupted; jobs already queued stay queued and the worker dyno runs them");
    abort.abort();
    await queue?.close().catch(() => {});
    await redis?.quit().catch(() => redis.disconnect());
    await db.$disconnect();
    if (interrupted) return EXIT.interrupted;
  };

  void runBackfill({ db, queue, args, out, config, signal: abort.signal })
    .catch((err: unknown) => failureCode(err, log))
    .then(async (code) => {
      if (closed) return; // interrupted: the signal's shutdown exits (130)
      finished = true;
      await close();
      await exitWhenWritten(code, log);
    });

  return { close };
}

/** The command line, with the ids of `--grants-file` added; `--help` and a usage error exit here. */
async function readArgs(): Promise<BackfillArgs> {
  try {
    const parsed = parseBackfillArgs(process.argv.slice(2));
    if (parsed === "help") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    // Thousands of ids do not fit on a command line (E2BIG); a file or stdin has no limit.
    if (parsed.grantsFile !== undefined)
      parsed.grants = [...new Set([...parsed.grants, ...(await readGrantsFile(parsed.grantsFile))])];
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`backfill: ${err.message} (see --help)\n`);
      process.exit(EXIT.usage);
    }
    throw err;
  }
}

/** On a terminal the progress line is redrawn in place; on a pipe every line stays. */
function stdoutOutput(): Output {
  const tty = process.stdout.isTTY === true;
  return {
    line: (text) => process.stdout.write(`${tty ? "\r\x1b[K" : ""}${text}\n`),
    ...(tty ? { progress: (text: string) => process.stdout.write(`\r\x1b[K${text}`) } : {}),
  };
}

/** The exit code of a backfill that threw: a BackfillError carries its own; anything else is logged. */
function failureCode(err: unknown, log: Logger): number {
  if (err instanceof BackfillError) {
    out.line(`backfill: ${err.message}`);
    return err.exitCode;
  }
  log.error({ err }, "backfill failed");
  return 1;
}

async function exitWhenWritten(code: number, log: Logger): Promise<void> {
  await new Promise<void>((r) => log.flush(() => r()));
  // On a pipe stdout is asynchronous: exiting at once would cut off thousands of lines.
  await new Promise<void>((r) => process.stdout.write("", () => r()));
  process.exit(code);
}
