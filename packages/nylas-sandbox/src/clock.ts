/**
 * The sandbox's clock: epoch milliseconds, `Date.now` unless told otherwise. The CLI takes
 * CLOCK_START (an ISO 8601 instant with `Z` or an offset) and runs a clock that reads that
 * instant at start-up and runs on at real speed; the seed's "today", message dates, default
 * event windows and OAuth expiry follow it. Kept here, not borrowed from an application, so
 * that the package stands on its own (an application may well have the same two functions).
 */

/** A date-time with seconds optional and an explicit zone (Z or ±hh:mm); no host-zone guessing. */
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The instant `text` names (e.g. `2026-03-07T20:00:00Z`), or undefined when it is not one. */
export function parseInstant(text: string): Date | undefined {
  if (!INSTANT_RE.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** A clock in epoch milliseconds that reads `startMs` now and runs on at real speed (the `now` option). */
export function clockFrom(startMs: number): () => number {
  const offset = startMs - Date.now();
  return () => Date.now() + offset;
}
