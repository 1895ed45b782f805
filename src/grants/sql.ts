/**
 * The statements of src/grants/zone.ts, which alone issues them. Each is a constant text with
 * bind parameters ($1, …, listed above it); values are never spliced into the text.
 */

/**
 * A grant's zone and its source, the row locked until the transaction ends: one zone writer at
 * a time per grant, and a run finishing meanwhile (FINISH_RUNS, which reads the zone under a
 * share lock) is ordered before or after it. $1 the grant id.
 */
export const LOCK_GRANT_ZONE = `
  SELECT time_zone AS zone, time_zone_source::text AS source FROM grants WHERE id = $1 FOR UPDATE`;
