import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { enqueueRuns, reviveRuns, type RunsQueue, type RunToEnqueue } from "../queue/queues.js";
import { isDueToSend } from "../time/window.js";

export interface TickOptions {
  now?: Date;
  /** Grants read per page (keyset), so memory stays flat in the number of grants. */
  pageSize: number;
  /** Enqueue every grant's next local day whatever the hour (demo, tests). */
  ignoreSendHour?: boolean;
}

export interface TickResult {
  scanned: number;
  due: number;
  alreadyDone: number;
  enqueued: number;
  revived: number;
  badZone: number;
  ms: number;
}

/** Run states after which the scheduler leaves a day alone. */
const SETTLED: ReadonlySet<string> = new Set(["completed", "skipped"]);

/**
 * Pages whose jobs may be on their way to Redis at once. Two keep Redis busy with one page
 * while this process encodes the next; more only hold more jobs in memory.
 */
const ADDS_IN_FLIGHT = Number(process.env.XIF ?? 2);

interface GrantRow {
  id: string;
  timeZone: string;
  sendHour: number;
  /** Valid and enabled: the only grants a tick schedules. */
  ok: boolean;
}

/**
 * One scheduler tick: finds every valid, enabled grant whose local time has reached its
 * send hour and whose next local day has no settled run, records the run as queued and
 * adds its job. Postgres decides what is undone, so a tick after Redis lost its data puts
 * back what is missing, and a tick that overlaps another adds nothing twice.
 *
 * Per page of grants: one read and one statement that both inserts the missing Run rows
 * and reports the days that already had one; then the page's jobs go to Redis while the
 * next page is read. A page's Run rows are always written before its jobs are added.
 */
export async function schedulerTick(db: Db, queue: RunsQueue, log: Logger, options: TickOptions): Promise<TickResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const result: TickResult = { scanned: 0, due: 0, alreadyDone: 0, enqueued: 0, revived: 0, badZone: 0, ms: 0 };
  // Zones repeat across grants; the due check is computed once per (zone, hour) per tick.
  const dueCache = new Map<string, { due: boolean; day: string } | null>();
  const badZones = new Set<string>();
  let cursor = "";

  // Jobs of earlier pages still on their way to Redis, oldest first. Each is handled at
  // once so a failure surfaces when it is awaited, not as an unhandled rejection.
  const adding: Promise<void>[] = [];
  const addPage = (runs: RunToEnqueue[]) => {
    const p = (process.env.XNOADD ? Promise.resolve(runs.length) : enqueueRuns(queue, runs, "scheduler")).then((n) => {
      result.enqueued += n;
    });
    p.catch(() => {});
    adding.push(p);
  };
  const drain = async (keep: number) => {
    while (adding.length > keep) await adding.shift();
  };

  try {
    for (;;) {
      // Keyset over the primary key, filtered here rather than in the WHERE clause: with the
      // filter in the index condition a planner without statistics on `grants` (freshly
      // loaded, not yet analyzed) sorts every remaining grant for each page.
      const grants = await db.$queryRaw<GrantRow[]>`
        SELECT id, time_zone AS "timeZone", send_hour AS "sendHour", (status = 'valid' AND enabled) AS ok
        FROM grants WHERE id > ${cursor} ORDER BY id LIMIT ${options.pageSize}`;
      if (grants.length === 0) break;
      cursor = grants[grants.length - 1]!.id;

      const ids: string[] = [];
      const days: string[] = [];
      const zones: string[] = [];
      for (const g of grants) {
        if (!g.ok) continue;
        result.scanned++;
        const hour = options.ignoreSendHour ? 0 : g.sendHour;
        const key = `${g.timeZone}|${hour}`;
        let d = dueCache.get(key);
        if (d === undefined) {
          try {
            d = isDueToSend(g.timeZone, hour, now);
          } catch {
            d = null;
            badZones.add(g.timeZone);
          }
          dueCache.set(key, d);
        }
        if (d === null) result.badZone++;
        else if (d.due) {
          ids.push(g.id);
          days.push(d.day);
          zones.push(g.timeZone);
        }
      }
      if (ids.length > 0) {
        result.due += ids.length;
        // One statement, one snapshot: inserts the days that have no run yet and returns
        // those that had one before it, with their state. A day another tick inserted
        // meanwhile is neither inserted nor returned, so it is treated as fresh: its job
        // is added again and BullMQ's job id makes that a no-op. The correlated lookup
        // always goes through the (grant_id, day) index, whatever the table's statistics.
        const existing = await db.$queryRaw<{ i: number; status: string }[]>`
          WITH d AS (SELECT * FROM unnest(${ids}::text[], ${days}::text[], ${zones}::text[]) WITH ORDINALITY AS d(grant_id, day, time_zone, i)),
          ins AS (INSERT INTO runs (grant_id, day, time_zone) SELECT grant_id, day, time_zone FROM d ON CONFLICT (grant_id, day) DO NOTHING)
          SELECT i::int AS i, status FROM (
            SELECT d.i, (SELECT r.status::text FROM runs r WHERE r.grant_id = d.grant_id AND r.day = d.day) AS status FROM d
          ) e WHERE status IS NOT NULL`;
        let fresh: RunToEnqueue[] = [];
        const revive: RunToEnqueue[] = [];
        if (existing.length === 0) {
          for (let i = 0; i < ids.length; i++) fresh.push({ grantId: ids[i]!, day: days[i]! });
        } else {
          const state = new Map(existing.map((e) => [e.i - 1, e.status]));
          for (let i = 0; i < ids.length; i++) {
            const s = state.get(i);
            const run = { grantId: ids[i]!, day: days[i]! };
            if (s !== undefined && SETTLED.has(s)) result.alreadyDone++;
            // A day stopped by a 401 whose grant is valid again: its failed job must make way.
            else if (s === "needs_reauth") revive.push(run);
            // No run before this statement, or one queued, running or failed: (re)add the
            // job, since Redis may have lost it; an existing job with the same id stays.
            else fresh.push(run);
          }
        }
        const CH = Number(process.env.XCH ?? 1000);
        for (let i = 0; i < fresh.length; i += CH) {
          await drain(ADDS_IN_FLIGHT - 1);
          addPage(fresh.slice(i, i + CH));
        }
        fresh = [];
        if (revive.length > 0) {
          await drain(0);
          await db.run.updateMany({ where: { OR: revive.map((d) => ({ grantId: d.grantId, day: d.day })) }, data: { status: "queued", lastError: null } });
          result.revived += await reviveRuns(queue, revive, "scheduler");
        }
      }
      if (grants.length < options.pageSize) break;
    }
    await drain(0);
  } finally {
    // On a failure, let the jobs already on their way land before the error surfaces.
    await Promise.allSettled(adding);
  }

  for (const zone of badZones) log.error({ zone }, "grants with an unknown time zone were not scheduled");
  result.ms = Date.now() - started;
  return result;
}
