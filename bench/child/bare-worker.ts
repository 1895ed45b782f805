/**
 * The baseline of benchmark 2: a bare BullMQ worker making the same Nylas calls as a run
 * (one events list, then one send per event, JOB_CONCURRENCY at a time) with no database, no
 * ledger and no rate limiter. BENCH_BARE_CLIENT picks how it calls Nylas: `sdk` (default)
 * through the official SDK's `events.list` and `messages.send`, as a bare worker would;
 * `lean` through the pipeline's own client (src/nylas/client.ts), whose hot calls skip the
 * SDK's key conversion, to measure the pipeline's machinery alone.
 */
import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import pLimit from "p-limit";
import { loadConfig } from "../../src/config.js";
import type { Event } from "nylas";
import { NylasApi, type OutgoingMessage } from "../../src/nylas/client.js";
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

const lean = process.env.BENCH_BARE_CLIENT === "lean";

async function readEvents(grantId: string, start: number, end: number): Promise<Event[]> {
  const events: Event[] = [];
  const query = { calendarId: "primary", start, end, limit: 200, expandRecurring: true };
  if (lean) {
    for await (const page of nylas.events(grantId, query)) events.push(...page);
    return events;
  }
  let pageToken: string | undefined;
  do {
    const queryParams = { ...query, start: String(start), end: String(end), ...(pageToken ? { pageToken } : {}) };
    const res = await nylas.sdk.events.list({ identifier: grantId, queryParams });
    events.push(...res.data);
    pageToken = res.nextCursor || undefined;
  } while (pageToken);
  return events;
}

// Every send of a run carries an Idempotency-Key; so does the baseline's.
async function send(grantId: string, message: OutgoingMessage): Promise<void> {
  const key = randomUUID();
  if (lean) {
    await nylas.send(grantId, message, key);
    return;
  }
  const requestBody = { to: message.to, subject: message.subject, body: message.body };
  await nylas.sdk.messages.send({
    identifier: grantId,
    requestBody,
    overrides: { headers: { "Idempotency-Key": key } },
  });
}

const worker = new Worker<BareJob>(
  RUNS_QUEUE,
  async (job) => {
    const { grantId, email, start, end } = job.data;
    const events = await readEvents(grantId, start, end);
    const limit = pLimit(config.JOB_CONCURRENCY);
    await Promise.all(
      events.map((ev) =>
        limit(() =>
          send(grantId, {
            to: (ev.participants ?? []).flatMap((p) => (p.email && p.email !== email ? [{ email: p.email }] : [])),
            subject: `Reminder: ${ev.title ?? ""}`,
            body: `<p>Reminder: ${ev.title ?? ""}</p>`,
          }),
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
