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
const SETTLED = ["completed", "skipped"] as const;

/**
 * One scheduler tick: finds every valid, enabled grant whose local time has reached its
 * send hour and whose next local day has no settled run, records the run as queued and
 * adds its job. Postgres decides what is undone, so a tick after Redis lost its data puts
 * back what is missing, and a tick that overlaps another adds nothing twice.
 */
export async function schedulerTick(db: Db, queue: RunsQueue, log: Logger, options: TickOptions): Promise<TickResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const result: TickResult = { scanned: 0, due: 0, alreadyDone: 0, enqueued: 0, revived: 0, badZone: 0, ms: 0 };
  // Zones repeat across grants; the due check is computed once per (zone, hour) per tick.
  const dueCache = new Map<string, { due: boolean; day: string } | null>();
  const badZones = new Set<string>();
  let cursor: string | undefined;
  // One page's addBulk stays in flight while the next page is read and its runs written,
  // so Redis and Postgres work overlap; a page's Run rows are always written before its
  // jobs are added. Handled at once so a failure surfaces at the next await, not as an
  // unhandled rejection.
  let inFlight: Promise<void> = Promise.resolve();
  const settle = async () => {
    const p = inFlight;
    inFlight = Promise.resolve();
    await p;
  };

  for (;;) {
    const grants = await db.$queryRaw<{ id: string; timeZone: string; sendHour: number }[]>`
      SELECT id, time_zone AS "timeZone", send_hour AS "sendHour" FROM grants
      WHERE status = 'valid' AND enabled AND id > ${cursor ?? ""}
      ORDER BY id LIMIT ${options.pageSize}`;
    if (grants.length === 0) break;
    cursor = grants[grants.length - 1]!.id;
    result.scanned += grants.length;

    const due: RunToEnqueue[] = [];
    for (const g of grants) {
      const key = `${g.timeZone}|${options.ignoreSendHour ? 0 : g.sendHour}`;
      let d = dueCache.get(key);
      if (d === undefined) {
        try {
          d = isDueToSend(g.timeZone, options.ignoreSendHour ? 0 : g.sendHour, now);
        } catch {
          d = null;
          badZones.add(g.timeZone);
        }
        dueCache.set(key, d);
      }
      if (d === null) result.badZone++;
      else if (d.due) due.push({ grantId: g.id, day: d.day });
    }
    if (due.length === 0) continue;
    result.due += due.length;

    // Raw SQL with one array parameter per column: Prisma's query compiler would build and
    // compile a fresh statement with thousands of parameters for every page (slow, and its
    // wasm heap grows with the page), while these two statements stay the same size.
    const runs = await db.$queryRaw<{ grantId: string; day: string; status: string }[]>`
      SELECT r.grant_id AS "grantId", r.day, r.status::text AS status
      FROM runs r JOIN unnest(${due.map((d) => d.grantId)}::text[], ${due.map((d) => d.day)}::text[]) AS d(grant_id, day)
        ON r.grant_id = d.grant_id AND r.day = d.day`;
    const state = new Map(runs.map((r) => [`${r.grantId}|${r.day}`, r.status]));
    const fresh: RunToEnqueue[] = [];
    const revive: RunToEnqueue[] = [];
    for (const d of due) {
      const s = state.get(`${d.grantId}|${d.day}`);
      if (s !== undefined && (SETTLED as readonly string[]).includes(s)) result.alreadyDone++;
      // A day stopped by a 401 whose grant is valid again: its failed job must make way.
      else if (s === "needs_reauth") revive.push(d);
      else fresh.push(d);
    }
    if (fresh.length > 0) {
      const zoneOf = new Map(grants.map((g) => [g.id, g.timeZone]));
      await db.$executeRaw`
        INSERT INTO runs (grant_id, day, time_zone)
        SELECT * FROM unnest(${fresh.map((d) => d.grantId)}::text[], ${fresh.map((d) => d.day)}::text[], ${fresh.map((d) => zoneOf.get(d.grantId) ?? "UTC")}::text[])
        ON CONFLICT (grant_id, day) DO NOTHING`;
      await settle();
      const adding = enqueueRuns(queue, fresh, "scheduler").then((n) => {
        result.enqueued += n;
      });
      adding.catch(() => {});
      inFlight = adding;
    }
    if (revive.length > 0) {
      await settle();
      await db.run.updateMany({ where: { OR: revive.map((d) => ({ grantId: d.grantId, day: d.day })) }, data: { status: "queued", lastError: null } });
      result.revived += await reviveRuns(queue, revive, "scheduler");
    }
    if (grants.length < options.pageSize) break;
  }
  await settle();

  for (const zone of badZones) log.error({ zone }, "grants with an unknown time zone were not scheduled");
  result.ms = Date.now() - started;
  return result;
}
