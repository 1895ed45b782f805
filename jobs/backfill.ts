// `npm run backfill -- --help` — queue the nightly runs of past or missed days again (one-off dyno).
import { runProcess } from "../src/process.js";
import { EXIT, parseBackfillArgs, UsageError, USAGE, type BackfillArgs } from "../src/backfill/args.js";
import { readGrantsFile } from "../src/backfill/grants-file.js";
import {
  BackfillError,
  dryRun,
  enqueueBackfill,
  isFailure,
  resolveGrants,
  table,
  waitForRuns,
  type Output,
} from "../src/backfill/backfill.js";
import { requireSettings, redisTls } from "../src/config.js";
import { createPrisma, type Db } from "../src/db/client.js";
import { NylasApi } from "../src/nylas/client.js";
import { createRunsQueue } from "../src/runs/queue.js";
import { createRedis } from "../src/redis/connection.js";

let args: BackfillArgs;
try {
  const parsed = parseBackfillArgs(process.argv.slice(2));
  if (parsed === "help") {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  args = parsed;
  // Thousands of ids do not fit on a command line (E2BIG); a file or stdin has no limit.
  if (args.grantsFile !== undefined)
    args.grants = [...new Set([...args.grants, ...(await readGrantsFile(args.grantsFile))])];
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`backfill: ${err.message} (see --help)\n`);
    process.exit(EXIT.usage);
  }
  throw err;
}

// Logs are for trouble only; the command's own output is the lines below.
process.env.LOG_LEVEL ??= "warn";

const tty = process.stdout.isTTY === true;
const out: Output = {
  line: (text) => process.stdout.write(`${tty ? "\r\x1b[K" : ""}${text}\n`),
  ...(tty ? { progress: (text: string) => process.stdout.write(`\r\x1b[K${text}`) } : {}),
};

await runProcess("backfill", async (config, log) => {
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

  const main = async (): Promise<number> => {
    const grants = await resolveGrants(db, args, out);
    if (grants.length === 0) {
      // --all on an empty database has nothing to do; named grants that all cannot run are
      // worth telling apart from a failed run in a script.
      if (args.all) out.line("no grant to backfill");
      else out.line("nothing to backfill: every named grant is skipped (see above)");
      return args.all ? EXIT.done : EXIT.allSkipped;
    }
    const span =
      args.days.length === 1
        ? args.days[0]!
        : `${args.days[0]} … ${args.days[args.days.length - 1]} (${args.days.length} days)`;

    if (args.dryRun) {
      const nylas = new NylasApi({
        apiKey: config.NYLAS_API_KEY,
        apiUri: config.NYLAS_API_URI,
        timeout: config.NYLAS_TIMEOUT_S,
      });
      out.line(`dry run: ${grants.length} grant(s), ${span}; nothing is queued or sent`);
      const r = await dryRun(db, nylas, grants, args.days, { includeAllDay: config.INCLUDE_ALL_DAY });
      if (r.rows.length > 0)
        for (const l of table(
          ["grant", "day", "starts", "to", "subject", "state"],
          r.rows.map((x) => [x.grantId, x.day, x.start, x.to, x.subject, x.state]),
        ))
          out.line(l);
      for (const e of r.errors) out.line(`cannot read ${e.grantId} ${e.day}: ${e.error}`);
      out.line(
        `would send ${r.wouldSend} reminder(s); ${r.alreadySent} already sent${r.errors.length ? `; ${r.errors.length} calendar read(s) failed` : ""}`,
      );
      return r.errors.length > 0 ? 1 : 0;
    }

    const { runs, added } = await enqueueBackfill(db, queue!, grants, args.days);
    out.line(
      `queued ${added} job(s) for ${grants.length} grant(s), ${span}${runs.length > added ? `; ${runs.length - added} already waiting or running` : ""}`,
    );
    if (!args.wait) {
      out.line("the worker dyno runs them; follow them in Bull Board (/admin/queues) or run again with --wait");
      return 0;
    }
    const outcomes = await waitForRuns(db, queue!, runs, out, {
      timeoutMs: args.timeoutS * 1000,
      signal: abort.signal,
    });
    const rows = outcomes.map((o) => [
      o.grantId,
      o.day,
      o.runStatus,
      String(o.meetings),
      String(o.sent),
      String(o.failed),
      o.error ?? "",
    ]);
    for (const l of table(["grant", "day", "status", "meetings", "sent", "failed", "note"], rows)) out.line(l);
    const failures = outcomes.filter(isFailure).length;
    const sent = outcomes.reduce((a, o) => a + o.sent, 0);
    out.line(
      `${outcomes.length} run(s): ${outcomes.length - failures} ok, ${failures} failed; ${sent} reminder(s) sent in total for these days`,
    );
    return failures > 0 ? 1 : 0;
  };

  void main()
    .catch((err: unknown) => {
      if (err instanceof BackfillError) {
        out.line(`backfill: ${err.message}`);
        return err.exitCode;
      }
      log.error({ err }, "backfill failed");
      return 1;
    })
    .then(async (code) => {
      if (closed) return; // interrupted: the signal's shutdown exits (130)
      finished = true;
      await close();
      await new Promise<void>((r) => log.flush(() => r()));
      // On a pipe stdout is asynchronous: exiting at once would cut off thousands of lines.
      await new Promise<void>((r) => process.stdout.write("", () => r()));
      process.exit(code);
    });

  return { close };
});
