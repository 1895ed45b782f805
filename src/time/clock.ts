/**
 * The process's "now" for calendar decisions, and only for those: which local day is
 * tomorrow for a grant, whether its send hour has passed (scheduler tick, a grant that
 * becomes valid again through a webhook or /connect), and whether a reminder says "today"
 * or "tomorrow". Everything that decides days from the wall clock asks `clockNow()`.
 *
 * It is the real clock, unless the test-only setting CLOCK_START (an ISO 8601 instant with
 * `Z` or an offset, e.g. `2026-03-07T20:00:00Z`) is set: then the clock reads that instant
 * when the process starts and runs on from there at real speed. Tests use it to put a
 * worker (and the sandbox, which takes the same setting) on the eve of a DST change, or
 * well away from any local midnight. `loadConfig` refuses it with NODE_ENV=production.
 *
 * What measures elapsed time, or meets another system's clock, stays on the real clock
 * (`Date.now()`): per-grant rate limits (Redis' TIME), ledger leases (Postgres' now()),
 * BullMQ delays, back-off, stall checks and its job scheduler's `every` (Redis and
 * BullMQ's own Date.now), timeouts, deadlines and durations, Retry-After dates, and the
 * status timestamps compared with the times in Nylas' webhook notifications. Shifting those
 * would not change which day is which; it would only make waits wrong (a lease that ran
 * out months ago, a delay already in the past) and disagree with Redis, Postgres and Nylas.
 */

/** CLOCK_START's format: a date-time with seconds optional and an explicit zone (Z or ±hh:mm). */
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The instant CLOCK_START names, or undefined when the text is not one (no host-zone guessing). */
export function parseInstant(text: string): Date | undefined {
  if (!INSTANT_RE.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** Milliseconds added to the real clock; 0 unless CLOCK_START was given. */
let offsetMs = 0;

/**
 * Starts the process's calendar clock at `start` (an instant, or CLOCK_START's text), or
 * puts it back on the real clock when `start` is undefined. Called once, at start-up.
 */
export function startClock(start: Date | string | undefined): void {
  if (start === undefined) {
    offsetMs = 0;
    return;
  }
  const at = typeof start === "string" ? parseInstant(start) : start;
  if (!at || !Number.isFinite(at.getTime()))
    throw new RangeError("CLOCK_START must be an ISO 8601 instant with Z or an offset");
  offsetMs = at.getTime() - Date.now();
}

/** "Now" for calendar decisions (see above). */
export function clockNow(): Date {
  return new Date(Date.now() + offsetMs);
}

/**
 * An independent clock in epoch milliseconds that reads `startMs` now and runs on at real
 * speed: the sandbox's `now` option under CLOCK_START (and tests' in-process sandboxes).
 */
export function clockFrom(startMs: number): () => number {
  const offset = startMs - Date.now();
  return () => Date.now() + offset;
}
