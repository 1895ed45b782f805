/**
 * The statements of src/grants/zone.ts, src/grants/status.ts and src/grants/settings-store.ts,
 * each issued by its module alone. Each is a constant text with bind parameters ($1, …, listed above it); values are
 * never spliced into the text.
 */

/**
 * A grant's zone and its source, the row locked until the transaction ends: one zone writer at
 * a time per grant, and a run finishing meanwhile (FINISH_RUNS, which reads the zone under a
 * share lock) is ordered before or after it. $1 the grant id.
 */
export const LOCK_GRANT_ZONE = `
  SELECT time_zone AS zone, time_zone_source::text AS source FROM grants WHERE id = $1 FOR UPDATE`;

/**
 * The newest valid grant (by created_at, then id) of each address (any case) that has more
 * than one valid or needs_reauth grant: the grant each such address keeps (status.ts).
 */
export const READ_DUPLICATE_WINNERS = `
  SELECT DISTINCT ON (lower(email)) id FROM grants
  WHERE status = 'valid' AND lower(email) IN (
    SELECT lower(email) FROM grants WHERE status IN ('valid', 'needs_reauth') GROUP BY lower(email) HAVING count(*) > 1)
  ORDER BY lower(email), created_at DESC, id COLLATE "C" DESC`;

/**
 * The valid and needs_reauth grants of a valid grant's address (any case) that are older than
 * it (by created_at, then id), or all of them when $2: those it replaces (status.ts).
 * $1 the valid grant's id; $2 every other grant, not only older ones (boolean).
 */
export const READ_OLDER_DUPLICATES = `
  SELECT o.id FROM grants g
  JOIN grants o ON lower(o.email) = lower(g.email) AND o.id <> g.id
  WHERE g.id = $1 AND g.status = 'valid' AND o.status IN ('valid', 'needs_reauth')
    AND ($2::boolean OR o.created_at < g.created_at
         OR (o.created_at = g.created_at AND o.id COLLATE "C" < g.id COLLATE "C"))
  ORDER BY o.id COLLATE "C"`;

/**
 * The grants of an address, case aside, exactly (no pattern: "_" and "%" are plain
 * characters), through the lower(email) index. $1 the address, $2 at most this many.
 */
export const GRANTS_BY_EMAIL = `
  SELECT id, email, provider, status::text AS status FROM grants
  WHERE lower(email) = lower($1) ORDER BY id LIMIT $2`;
