import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { enqueueRuns, reviveRuns, type RunsQueue, type RunToEnqueue } from "./queue.js";
import { RunStore, type DuePage, type DueRun, type UncheckedGrant } from "./store.js";
import { clockNow } from "../time/clock.js";
import { isDueToSend } from "../time/window.js";
import { secondSweep, type SweepSettings } from "./sweep.js";

export interface TickOptions {
  /** Default: the calendar clock (src/time/clock.ts). */
  now?: Date;
  /** Grants read per page (keyset), so memory stays flat in the number of grants. */
  pageSize: number;
  /** Enqueue every grant's next local day whatever the hour (demo, tests). */
  ignoreSendHour?: boolean;
  /** The second sweep (src/runs/sweep.ts): set when webhooks are not configured. */
  sweep?: SweepSettings;
}

export interface TickResult {
  scanned: number;
  due: number;
  alreadyDone: number;
  enqueued: number;
  revived: number;
  /** Of `revived`: days reopened by a zone change that were due (see src/runs/coverage.ts). */
  reopened: number;
  badZone: number;
  /** Completed days re-run by the second sweep (only when it is on). */
  swept?: number;
  ms: number;
}

/** Run states after which the scheduler leaves a day alone. */
const SETTLED: ReadonlySet<string> = new Set(["completed", "skipped"]);

/**
 * Jobs go to Redis in addBulk calls of ADD_CHUNK, up to ADDS_IN_FLIGHT of them at once, so
 * Redis runs one call's scripts while this process encodes the next. Calls smaller than a
 * page keep fewer jobs alive at a time: less for the garbage collector to copy and promote.
 */
export const ADD_CHUNK = 250;
export const ADDS_IN_FLIGHT = 3;

/**
 * One scheduler tick: finds every grant that can run whose local time has reached its send
 * hour and whose next local day has no settled run, records the run as queued and adds its
 * job. Postgres decides what is undone, so a tick after Redis lost its data puts back what
 * is missing, and a tick that overlaps another adds nothing twice.
 *
 * The due check runs here, once per (zone, send hour) per tick. Each page of grants then
 * costs one statement: it reads the page, matches it against the checks made so far,
 * inserts the missing Run rows of the due grants and returns them with the state their
 * runs had before. Grants of a (zone, hour) not checked yet come back to be checked and
 * written by a second statement (the first pages of a tick, mostly). While Postgres works
 * on a page, the jobs of the page before are on their way to Redis; a page's Run rows are
 * always written before its jobs are added.
 */
export async function schedulerTick(db: Db, queue: RunsQueue, log: Logger, options: TickOptions): Promise<TickResult> {
  const started = Date.now();
  const ignoreSendHour = options.ignoreSendHour === true;
  const store = new RunStore(db);
  const jobs = new JobAdder(queue);
  const result: TickResult = {
    scanned: 0,
    due: 0,
    alreadyDone: 0,
    enqueued: 0,
    revived: 0,
    reopened: 0,
    badZone: 0,
    ms: 0,
  };
  // Which day is next and whether the send hour is past: the calendar clock. Durations
  // (`started`) stay on the real one.
  const now = options.now ?? clockNow();
  // Days reopened by a zone change, once due in the new zone: one statement for the tick,
  // before the pages, since a reopened day may be today there rather than the next day.
  const reopened = await store.dueReopened(now, ignoreSendHour);
  if (reopened.length > 0) {
    await store.revive(reopened);
    result.reopened = await reviveRuns(queue, reopened, "scheduler");
    result.revived += result.reopened;
  }
  const checks = new DueChecks(now, ignoreSendHour);
  const readPage = (after: string) =>
    store.queueDuePage({ after, pageSize: options.pageSize, checked: checks.json, ignoreSendHour });

  // The next page's statement, started as soon as its cursor is known so that Postgres
  // works on it while this page's jobs are encoded and sent.
  let next: Promise<DuePage> | undefined = readPage("");
  try {
    while (next) {
      const page = await next;
      next = undefined;
      if (page.n === 0) break;
      result.scanned += page.ok;
      result.badZone += page.bad;

      const late = page.unknown.length > 0 ? checks.checkNew(page.unknown) : { due: [], bad: 0 };
      result.badZone += late.bad;
      if (page.n === options.pageSize) {
        next = readPage(page.last!);
        next.catch(() => {});
        // Let the statement reach Postgres before this page's jobs are encoded, which holds
        // the event loop for a while.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }

      const due = late.due.length > 0 ? page.due.concat(await store.queueDue(late.due)) : page.due;
      if (due.length === 0) continue;
      result.due += due.length;
      const { fresh, revive, settled } = sortDue(due);
      result.alreadyDone += settled;
      await jobs.add(fresh, (n) => (result.enqueued += n));
      if (revive.length > 0) {
        await jobs.drain(0);
        await store.revive(revive);
        result.revived += await reviveRuns(queue, revive, "scheduler");
      }
    }
    await jobs.drain(0);
  } finally {
    // On a failure, let the statement and the jobs already on their way finish before the
    // error surfaces.
    await Promise.allSettled([...jobs.inFlight, ...(next ? [next] : [])]);
  }

  if (options.sweep) result.swept = await secondSweep(db, queue, log, now, options.sweep);
  for (const zone of checks.badZones) log.error({ zone }, "grants with an unknown time zone were not scheduled");
  result.ms = Date.now() - started;
  return result;
}

/** The due check of one (zone, send hour): the local day to queue, null when not due yet. */
interface DueCheck {
  zone: string;
  hour: number;
  day: string | null;
  /** The zone is unknown: its grants are not scheduled. */
  bad: boolean;
}

/**
 * A tick's due checks, each made once per (zone, send hour) with the tick's clock. The page
 * statement matches grants against those made so far, as JSON, encoded again only when a
 * check was added.
 */
class DueChecks {
  private readonly checks = new Map<string, DueCheck>();
  readonly badZones = new Set<string>();
  /** Every check so far as [zone, hour, day, bad] rows, the shape the page statement reads. */
  json = "[]";

  constructor(
    private readonly now: Date,
    private readonly ignoreSendHour: boolean,
  ) {}

  /** Checks the grants a page statement could not match: those due, and how many have a bad zone. */
  checkNew(grants: UncheckedGrant[]): { due: { grantId: string; day: string; timeZone: string }[]; bad: number } {
    const due: { grantId: string; day: string; timeZone: string }[] = [];
    let bad = 0;
    for (const [grantId, zone, sendHour] of grants) {
      const check = this.check(zone, this.ignoreSendHour ? 0 : sendHour);
      if (check.bad) bad++;
      else if (check.day !== null) due.push({ grantId, day: check.day, timeZone: zone });
    }
    this.json = JSON.stringify([...this.checks.values()].map((c) => [c.zone, c.hour, c.day, c.bad]));
    return { due, bad };
  }

  private check(zone: string, hour: number): DueCheck {
    const key = `${zone}|${hour}`;
    let check = this.checks.get(key);
    if (check === undefined) {
      try {
        const d = isDueToSend(zone, hour, this.now);
        check = { zone, hour, day: d.due ? d.day : null, bad: false };
      } catch {
        check = { zone, hour, day: null, bad: true };
        this.badZones.add(zone);
      }
      this.checks.set(key, check);
    }
    return check;
  }
}

/**
 * Sorts due runs by the state their run had: settled days are left alone; a day stopped by a
 * 401 whose grant is valid again, or reopened by a zone change, is revived (its earlier job
 * must make way); any other day
 * (no run before, or one queued, running or failed) gets its job added again, since Redis may
 * have lost it: a job with the same id still in Redis makes the add a no-op.
 */
function sortDue(due: DueRun[]): { fresh: RunToEnqueue[]; revive: RunToEnqueue[]; settled: number } {
  const fresh: RunToEnqueue[] = [];
  const revive: RunToEnqueue[] = [];
  let settled = 0;
  for (const [grantId, day, status] of due) {
    if (status !== null && SETTLED.has(status)) settled++;
    else if (status === "needs_reauth" || status === "reopened") revive.push({ grantId, day });
    else fresh.push({ grantId, day });
  }
  return { fresh, revive, settled };
}

/**
 * addBulk calls on their way to Redis, oldest first, at most ADDS_IN_FLIGHT at a time. Each
 * is handled at once so a failure surfaces when it is awaited, not as an unhandled rejection.
 */
class JobAdder {
  readonly inFlight: Promise<void>[] = [];

  constructor(private readonly queue: RunsQueue) {}

  async add(runs: RunToEnqueue[], added: (n: number) => void): Promise<void> {
    for (let i = 0; i < runs.length; i += ADD_CHUNK) {
      await this.drain(ADDS_IN_FLIGHT - 1);
      const p = enqueueRuns(this.queue, runs.slice(i, i + ADD_CHUNK), "scheduler", ADD_CHUNK).then(added);
      p.catch(() => {});
      this.inFlight.push(p);
    }
  }

  /** Waits until at most `keep` calls are in flight. */
  async drain(keep: number): Promise<void> {
    while (this.inFlight.length > keep) await this.inFlight.shift();
  }
}
