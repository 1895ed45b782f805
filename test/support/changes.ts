import { expect, vi } from "vitest";
import type { Sandbox } from "nylas-sandbox";
import type { Db } from "../../src/db/client.js";
import type { NylasApi } from "../../src/nylas/client.js";
import { runJobId } from "../../src/runs/job.js";
import { enqueueRuns, type RunsQueue } from "../../src/runs/queue.js";
import { localDayWindow } from "../../src/time/window.js";

/**
 * Helpers of the tests of meetings that change after the run (test/integration/rerun-*.test.ts):
 * a grant's day run to completion, its re-run job let out of its debounce, its mail.
 */
export interface DayDeps {
  db: Db;
  queue: RunsQueue;
  sandbox: Sandbox;
  nylas: NylasApi;
}

/** Unix seconds of hh:mm on `day` in `zone` (no DST change in these days and zones). */
export const at = (zone: string, day: string, hh: number, mm = 0): number =>
  localDayWindow(zone, day).start + hh * 3600 + mm * 60;

export const runStatus = async (db: Db, grantId: string, day: string) =>
  (await db.run.findUnique({ where: { grantId_day: { grantId, day } } }))?.status;

/** A meeting on the grant's primary calendar with Bob (and whoever else is given). */
export function addMeeting(sandbox: Sandbox, grantId: string, title: string, start: number, others: string[] = []) {
  return sandbox.addEvent(grantId, {
    title,
    when: { start_time: start, end_time: start + 1800 },
    participants: [{ email: "bob@example.com", name: "Bob" }, ...others.map((email) => ({ email }))],
  });
}

/** Waits until the day's job (first run or re-run) is completed and its run is too. */
async function completed(d: DayDeps, grantId: string, day: string): Promise<void> {
  const id = runJobId(grantId, day);
  await vi.waitFor(
    async () => {
      const job = await d.queue.getJob(id);
      if (job && (await job.getState()) === "failed") throw new Error(`run job failed for good: ${job.failedReason}`);
      expect(await d.queue.getJobState(id)).toBe("completed");
      expect(await runStatus(d.db, grantId, day)).toBe("completed");
    },
    { timeout: 30_000, interval: 50 },
  );
}

/** The day's first run, to completion. */
export async function runDay(d: DayDeps, grantId: string, day: string): Promise<void> {
  await enqueueRuns(d.queue, [{ grantId, day }], "scheduler");
  await completed(d, grantId, day);
}

/** The grant's jobs not finished yet (waiting, delayed, active). */
export async function openJobs(d: DayDeps, grantId: string) {
  const jobs = await d.queue.getJobs(["waiting", "delayed", "active", "prioritized"]);
  return jobs.filter((j) => j.data.grantId === grantId);
}

/**
 * The day's one re-run job, waiting out its debounce, let out at once (the debounce is
 * BullMQ's delay: promoting it is what the clock would do), then run to completion.
 */
export async function runRerun(d: DayDeps, grantId: string, day: string): Promise<void> {
  const open = await openJobs(d, grantId);
  expect(open.map((j) => [j.id, j.data.source])).toEqual([[runJobId(grantId, day), "rerun"]]);
  expect(await open[0]!.getState()).toBe("delayed");
  await open[0]!.promote();
  await completed(d, grantId, day);
}

/** The grant's sent mail, oldest first, with each message's body as the mailbox has it. */
export async function mail(d: DayDeps, grantId: string) {
  const sent = d.sandbox.sentMessages({ grantId }).sort((a, b) => a.at - b.at);
  return Promise.all(
    sent.map(async (m) => {
      const found = await d.nylas.sdk.messages.find({ identifier: grantId, messageId: m.messageId });
      return { subject: m.subject, to: [...m.to].sort(), body: found.data.body ?? "" };
    }),
  );
}
