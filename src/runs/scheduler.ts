import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { enqueueRuns, reviveRuns, type RunsQueue, type RunToEnqueue } from "./queue.js";
import { clockNow } from "../time/clock.js";
import { isDueToSend } from "../time/window.js";

export interface TickOptions {
  /** Default: the calendar clock (src/time/clock.ts). */
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
 * Jobs go to Redis in addBulk calls of ADD_CHUNK, up to ADDS_IN_FLIGHT of them at once, so
 * Redis runs one call's scripts while this process encodes the next. Calls smaller than a
 * page keep fewer jobs alive at a time: less for the garbage collector to copy and promote.
 */
export const ADD_CHUNK = 250;
export const ADDS_IN_FLIGHT = 3;

/** [zone, hour, day, bad]: the due check of one (zone, send hour); day is null when not due. */
type Combo = [zone: string, hour: number, day: string | null, bad: boolean];
/** [grant id, day, status of its run before the statement, or null]. */
type DueRow = [grantId: string, day: string, status: string | null];

interface Page {
  /** Grants read (any status), and the last id among them: the next page's cursor. */
  n: number;
  last: string | null;
  /** Valid, enabled grants of the page, and those of them whose combination is bad. */
  ok: number;
  bad: number;
  /** Due by a combination already checked; the page's statement inserted the runs they lacked. */
  due: DueRow[];
  /** Valid, enabled grants whose (zone, hour) this tick had not checked yet. */
  unknown: [grantId: string, zone: string, sendHour: number][];
}

/**
 * One scheduler tick: finds every valid, enabled grant whose local time has reached its
 * send hour and whose next local day has no settled run, records the run as queued and
 * adds its job. Postgres decides what is undone, so a tick after Redis lost its data puts
 * back what is missing, and a tick that overlaps another adds nothing twice.
 *
 * The due check runs here, once per (zone, send hour) per tick. Each page of grants then
 * costs one statement: it reads the page, matches it against the combinations checked so
 * far, inserts the missing Run rows of the due grants and returns them with the state
 * their runs had before. Grants of a combination not checked yet come back to be checked
 * and written by a second statement (the first pages of a tick, mostly). While Postgres
 * works on a page, the jobs of the page before are on their way to Redis; a page's Run
 * rows are always written before its jobs are added.
 */
export async function schedulerTick(db: Db, queue: RunsQueue, log: Logger, options: TickOptions): Promise<TickResult> {
  const started = Date.now();
  // Which day is next and whether the send hour is past: the calendar clock. Durations
  // (`started`) stay on the real one.
  const now = options.now ?? clockNow();
  const ignoreHour = options.ignoreSendHour === true;
  const result: TickResult = { scanned: 0, due: 0, alreadyDone: 0, enqueued: 0, revived: 0, badZone: 0, ms: 0 };
  const combos = new Map<string, Combo>();
  let combosJson = "[]";
  const badZones = new Set<string>();

  // addBulk calls still on their way to Redis, oldest first. Each is handled at
  // once so a failure surfaces when it is awaited, not as an unhandled rejection.
  const adding: Promise<void>[] = [];
  const drain = async (keep: number) => {
    while (adding.length > keep) await adding.shift();
  };

  // Keyset over the primary key, with the status filter applied to the page rather than in
  // the index condition: a planner without statistics on `grants` (just loaded, not yet
  // analyzed) would otherwise sort every remaining grant for each page. The run lookup is a
  // correlated subquery, so it goes through the (grant_id, day) index whatever the statistics
  // of `runs`. All of it reads one snapshot, taken before the insert: a run another tick
  // inserted meanwhile is neither inserted nor returned, so its job is added again and
  // BullMQ's job id makes that a no-op.
  const readPage = async (after: string, known: string): Promise<Page> => {
    const [row] = await db.$queryRaw<{ page: string }[]>`
      WITH page AS MATERIALIZED (
        SELECT id, time_zone, send_hour, status = 'valid' AND enabled AS ok
        FROM grants WHERE id > ${after} ORDER BY id LIMIT ${options.pageSize}
      ),
      combo AS (
        SELECT e->>0 AS zone, (e->>1)::int AS hour, e->>2 AS day, (e->>3)::boolean AS bad
        FROM json_array_elements(${known}::json) AS e
      ),
      m AS MATERIALIZED (
        SELECT p.id, p.time_zone, p.send_hour, c.day, c.bad, c.zone IS NOT NULL AS known
        FROM page p LEFT JOIN combo c ON c.zone = p.time_zone AND c.hour = CASE WHEN ${ignoreHour} THEN 0 ELSE p.send_hour END
        WHERE p.ok
      ),
      ins AS (
        INSERT INTO runs (grant_id, day, time_zone) SELECT id, day, time_zone FROM m WHERE day IS NOT NULL
        ON CONFLICT (grant_id, day) DO NOTHING
      )
      SELECT json_build_object(
        'n', (SELECT count(*) FROM page),
        'last', (SELECT max(id) FROM page),
        'ok', (SELECT count(*) FROM m),
        'bad', (SELECT count(*) FROM m WHERE bad),
        'due', (SELECT coalesce(json_agg(json_build_array(m.id, m.day,
                  (SELECT r.status FROM runs r WHERE r.grant_id = m.id AND r.day = m.day))), '[]')
                FROM m WHERE m.day IS NOT NULL),
        'unknown', (SELECT coalesce(json_agg(json_build_array(m.id, m.time_zone, m.send_hour)), '[]') FROM m WHERE NOT m.known)
      )::text AS page`;
    return JSON.parse(row!.page) as Page;
  };

  // The next page's statement, started as soon as its cursor is known so that Postgres
  // works on it while this page's jobs are encoded and sent.
  let next: Promise<Page> | undefined = readPage("", combosJson);
  try {
    while (next) {
      const page = await next;
      next = undefined;
      if (page.n === 0) break;
      result.scanned += page.ok;
      result.badZone += page.bad;

      const late: [grantId: string, day: string, zone: string][] = [];
      if (page.unknown.length > 0) {
        for (const [grantId, zone, sendHour] of page.unknown) {
          const hour = ignoreHour ? 0 : sendHour;
          const key = `${zone}|${hour}`;
          let c = combos.get(key);
          if (c === undefined) {
            try {
              const d = isDueToSend(zone, hour, now);
              c = [zone, hour, d.due ? d.day : null, false];
            } catch {
              c = [zone, hour, null, true];
              badZones.add(zone);
            }
            combos.set(key, c);
          }
          if (c[3]) result.badZone++;
          else if (c[2] !== null) late.push([grantId, c[2], zone]);
        }
        combosJson = JSON.stringify([...combos.values()]);
      }
      if (page.n === options.pageSize) {
        next = readPage(page.last!, combosJson);
        next.catch(() => {});
        // Let the statement reach Postgres before this page's jobs are encoded, which holds
        // the event loop for a while.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }

      let due = page.due;
      if (late.length > 0) {
        const [lateRow] = await db.$queryRaw<{ due: string }[]>`
          WITH d AS (SELECT e->>0 AS grant_id, e->>1 AS day, e->>2 AS time_zone FROM json_array_elements(${JSON.stringify(late)}::json) AS e),
          ins AS (INSERT INTO runs (grant_id, day, time_zone) SELECT grant_id, day, time_zone FROM d ON CONFLICT (grant_id, day) DO NOTHING)
          SELECT json_agg(json_build_array(d.grant_id, d.day,
            (SELECT r.status FROM runs r WHERE r.grant_id = d.grant_id AND r.day = d.day)))::text AS due
          FROM d`;
        due = due.concat(JSON.parse(lateRow!.due) as DueRow[]);
      }

      if (due.length > 0) {
        result.due += due.length;
        const fresh: RunToEnqueue[] = [];
        const revive: RunToEnqueue[] = [];
        for (const [grantId, day, status] of due) {
          if (status !== null && SETTLED.has(status)) result.alreadyDone++;
          // A day stopped by a 401 whose grant is valid again: its failed job must make way.
          else if (status === "needs_reauth") revive.push({ grantId, day });
          // No run before, or one queued, running or failed: add the job again, since Redis
          // may have lost it; a job with the same id still in Redis makes the add a no-op.
          else fresh.push({ grantId, day });
        }
        for (let i = 0; i < fresh.length; i += ADD_CHUNK) {
          await drain(ADDS_IN_FLIGHT - 1);
          const p = enqueueRuns(queue, fresh.slice(i, i + ADD_CHUNK), "scheduler", ADD_CHUNK).then((n) => {
            result.enqueued += n;
          });
          p.catch(() => {});
          adding.push(p);
        }
        if (revive.length > 0) {
          await drain(0);
          await db.run.updateMany({ where: { OR: revive.map((d) => ({ grantId: d.grantId, day: d.day })) }, data: { status: "queued", lastError: null } });
          result.revived += await reviveRuns(queue, revive, "scheduler");
        }
      }
    }
    await drain(0);
  } finally {
    // On a failure, let the statement and the jobs already on their way finish before the
    // error surfaces.
    await Promise.allSettled([...adding, ...(next ? [next] : [])]);
  }

  for (const zone of badZones) log.error({ zone }, "grants with an unknown time zone were not scheduled");
  result.ms = Date.now() - started;
  return result;
}
