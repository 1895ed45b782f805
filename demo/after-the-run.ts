import type { Sandbox } from "nylas-sandbox";
import type { Queue } from "bullmq";
import { waitForIdle } from "../src/redis/idle.js";
import type { RunsQueue } from "../src/runs/queue.js";

/**
 * After the night's run, one user moves a reminded meeting within tomorrow and cancels
 * another. The sandbox sends its signed event.updated notifications to the web dyno, the
 * worker re-runs that grant's tomorrow, and the mailboxes must show exactly one new reminder
 * saying the meeting moved and one cancellation notice, to the meetings' own recipients, and
 * nothing else. Judged from the sandbox's events and mailboxes, not the worker's ledger.
 */
export interface AfterTheRun {
  ok: boolean;
  grantId?: string;
  /** New reminders of the moved meeting that say it moved. */
  movedNotices: number;
  /** Cancellation notices of the cancelled meeting. */
  cancelNotices: number;
  /** Re-run jobs the changes caused (debounced: one per grant). */
  reruns: number;
  problems: string[];
}

export interface AfterTheRunDeps {
  sandbox: Sandbox;
  runsQueue: RunsQueue;
  webhooksQueue: Queue;
  now: Date;
  /** Grants left out of the change (revoked, delayed, with their own cases). */
  skip: Set<string>;
  timeoutMs: number;
}

const sortedLower = (emails: string[]) => [...new Set(emails.map((e) => e.toLowerCase()))].sort();

export async function changeAfterTheRun(deps: AfterTheRunDeps): Promise<AfterTheRun> {
  const { sandbox, now } = deps;
  const reminded = sandbox.expectedReminders({ now }).filter((r) => !deps.skip.has(r.grantId));
  const grantId = reminded.find(
    (r) => r.title === "Team sync" && reminded.some((o) => o.grantId === r.grantId && o.title.startsWith("Planning")),
  )?.grantId;
  const result: AfterTheRun = { ok: false, movedNotices: 0, cancelNotices: 0, reruns: 0, problems: [] };
  if (!grantId) {
    result.problems.push("no grant with both a Team sync and a Planning reminder to change");
    return result;
  }
  result.grantId = grantId;
  const sync = reminded.find((r) => r.grantId === grantId && r.title === "Team sync")!;
  const planning = reminded.find((r) => r.grantId === grantId && r.title.startsWith("Planning"))!;
  const rerunsBefore = await rerunJobs(deps.runsQueue);
  const since = Date.now();

  // The user moves the sync an hour later and calls the planning meeting off.
  sandbox.moveEvent(grantId, sync.eventId, sync.start + 3600);
  sandbox.updateEvent(grantId, planning.eventId, { status: "cancelled" });
  const flushed = await sandbox.webhooks.flush({ expedite: true, timeoutMs: deps.timeoutMs });
  if (!flushed.idle) result.problems.push("the sandbox could not deliver its webhooks");
  await waitForIdle(deps.webhooksQueue, deps.timeoutMs);
  await waitForIdle(deps.runsQueue, deps.timeoutMs);
  result.reruns = (await rerunJobs(deps.runsQueue)) - rerunsBefore;

  const fresh = sandbox.sentMessages({ sinceMs: since });
  const moved = fresh.filter((m) => m.grantId === grantId && m.subject.startsWith("Reminder: Team sync"));
  const cancelled = fresh.filter((m) => m.grantId === grantId && m.subject.startsWith("Cancelled: Planning"));
  result.movedNotices = moved.filter((m) => /Moved: now at/.test(m.body)).length;
  result.cancelNotices = cancelled.length;
  if (moved.length !== 1 || result.movedNotices !== 1)
    result.problems.push(
      `${moved.length} new reminder(s) of the moved meeting, ${result.movedNotices} saying it moved`,
    );
  if (cancelled.length !== 1) result.problems.push(`${cancelled.length} cancellation notice(s)`);
  const want = (r: { recipients: string[] }) => JSON.stringify(sortedLower(r.recipients));
  for (const [m, r] of [
    [moved[0], sync],
    [cancelled[0], planning],
  ] as const)
    if (m && JSON.stringify(sortedLower(m.to)) !== want(r))
      result.problems.push(`"${m.subject}" went to the wrong people`);
  const other = fresh.length - moved.length - cancelled.length;
  if (other > 0) result.problems.push(`${other} other message(s) after the changes`);
  result.ok = result.problems.length === 0;
  return result;
}

async function rerunJobs(queue: RunsQueue): Promise<number> {
  const done = await queue.getJobs(["completed"], 0, -1);
  return done.filter((j) => j.data.source === "rerun").length;
}
