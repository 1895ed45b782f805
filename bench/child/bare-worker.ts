/**
 * The baseline of benchmark 2: a bare BullMQ worker making the same Nylas calls as a run
 * (one events list, then one send per event, JOB_CONCURRENCY at a time, through the same
 * SDK client) with no database, no ledger and no rate limiter.
 */
import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import pLimit from "p-limit";
import { loadConfig } from "../../src/config.js";
import { NylasApi } from "../../src/nylas/client.js";
import { createRedis } from "../../src/redis/connection.js";
import { RUNS_QUEUE } from "../../src/runs/job.js";
import { maybeProfile } from "../lib/profile.js";

export interface BareJob {
  grantId: string;
  email: string;
  start: number;
  end: number;
}

const config = loadConfig();
const stopProfile = await maybeProfile("bare-worker");
const connection = createRedis(config.REDIS_URL, { connectionName: "nr-bench-bare" });
const nylas = new NylasApi({
  apiKey: config.NYLAS_API_KEY,
  apiUri: config.NYLAS_API_URI,
  timeout: config.NYLAS_TIMEOUT_S,
});

const worker = new Worker<BareJob>(
  RUNS_QUEUE,
  async (job) => {
    const { grantId, email, start, end } = job.data;
    const events = [];
    for await (const page of nylas.events(grantId, {
      calendarId: "primary",
      start,
      end,
      limit: 200,
      expandRecurring: true,
    }))
      events.push(...page);
    const limit = pLimit(config.JOB_CONCURRENCY);
    await Promise.all(
      events.map((ev) =>
        limit(() =>
          nylas.send(
            grantId,
            {
              to: (ev.participants ?? []).flatMap((p) => (p.email && p.email !== email ? [{ email: p.email }] : [])),
              subject: `Reminder: ${ev.title ?? ""}`,
              body: `<p>Reminder: ${ev.title ?? ""}</p>`,
            },
            // Every send of a run carries an Idempotency-Key; so does the baseline's.
            randomUUID(),
          ),
        ),
      ),
    );
    return { sent: events.length };
  },
  { connection, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY },
);
worker.on("error", (err) => process.stderr.write(`bare worker: ${err.message}\n`));

const stop = () => {
  void worker
    .close()
    .then(() => connection.quit())
    .then(() => stopProfile())
    .finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 10_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
