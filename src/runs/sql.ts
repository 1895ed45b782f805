import { GRANT_CAN_RUN_SQL } from "../grants/status.js";

/**
 * The statements of src/runs/store.ts, which alone issues them. Each is a constant text with
 * bind parameters ($1, $2, …, listed above it); values are never spliced into the text.
 * Batched statements take one array per column and unnest them, so a batch of any size is
 * one statement.
 */

/**
 * The grants of a batch of jobs, each with its coverage end before the job's day: the latest
 * window end of the grant's completed (or completed, then reopened) runs of the days from $3
 * up to (not including) the day, through the (grant_id, day) index (src/runs/coverage.ts says why).
 * $1 grant ids, $2 days, $3 first days of the look-back (text[]).
 */
export const READ_RUN_GRANTS = `
  SELECT t.idx, g.id, g.email, g.provider, g.time_zone AS "timeZone", g.time_zone_source::text AS "timeZoneSource",
    g.calendar_id AS "calendarId", g.status::text AS status, g.enabled, g.sent_check_off AS "sentCheckOff", g.locale,
    g.policy::text AS policy,
    (SELECT max(r.window_end) FROM runs r
      WHERE r.grant_id = g.id AND r.day >= t.from_day AND r.day < t.day
        AND r.status IN ('completed', 'reopened')) AS "coverageEnd"
  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(grant_id, day, from_day, idx)
  JOIN grants g ON g.id = t.grant_id`;

/**
 * Marks runs as running, creating those a job came without, and counts the attempt.
 * $1 grant ids, $2 days, $3 job ids, $4 zones, $5 zone sources (text[]); $6 window starts,
 * $7 window ends (timestamptz[]).
 */
export const START_RUNS = `
  INSERT INTO runs (grant_id, day, status, job_id, time_zone, time_zone_source, window_start, window_end, attempts,
                    started_at)
  SELECT grant_id, day, 'running', job_id, time_zone, time_zone_source::"ZoneSource", window_start, window_end, 1, now()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
    AS t(grant_id, day, job_id, time_zone, time_zone_source, window_start, window_end)
  ON CONFLICT (grant_id, day) DO UPDATE SET
    status = 'running', job_id = EXCLUDED.job_id, time_zone = EXCLUDED.time_zone,
    time_zone_source = EXCLUDED.time_zone_source, window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
    attempts = runs.attempts + 1, last_error = NULL, started_at = COALESCE(runs.started_at, now())`;

/**
 * Records runs' outcomes with the ledger's totals for their day, counted in the same
 * statement, and returns those totals by index (no row for a run that is gone), with the
 * grant's zone as it is now. That zone is read under a share lock: a zone change committing
 * meanwhile is either seen here (the caller reopens the day if the new zone needs it) or waits
 * until this run is recorded, and then finds it completed (src/runs/coverage.ts).
 * $1 indexes (int[]); $2 grant ids, $3 days, $4 statuses (text[]); $5 meetings seen,
 * $6 reminders skipped (int[]); $7 skipped by reason (jsonb[]); $8 last errors (text[]);
 * $9 finished at (timestamptz[], null keeps the old value); $10 durations (int[], likewise).
 */
export const FINISH_RUNS = `
  WITH g AS MATERIALIZED (
    SELECT id, time_zone FROM grants WHERE id = ANY($2::text[]) ORDER BY id FOR SHARE
  ), f AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::jsonb[], $8::text[],
                         $9::timestamptz[], $10::int[])
      AS t(idx, grant_id, day, status, meetings_seen, reminders_skipped, skipped_by_reason, last_error,
           finished_at, duration_ms)
  ), t AS (
    SELECT f.*, c.sent, c.failed, c.uncertain FROM f CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE r.status = 'sent')::int AS sent,
             count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
             count(*) FILTER (WHERE r.status = 'uncertain')::int AS uncertain
      FROM reminders r WHERE r.grant_id = f.grant_id AND r.day = f.day
    ) c
  )
  UPDATE runs SET status = t.status::"RunStatus", meetings_seen = t.meetings_seen, reminders_sent = t.sent,
    reminders_failed = t.failed, reminders_uncertain = t.uncertain, reminders_skipped = t.reminders_skipped, skipped_by_reason = t.skipped_by_reason,
    last_error = t.last_error, finished_at = COALESCE(t.finished_at, runs.finished_at),
    duration_ms = COALESCE(t.duration_ms, runs.duration_ms)
  FROM t LEFT JOIN g ON g.id = t.grant_id WHERE runs.grant_id = t.grant_id AND runs.day = t.day
  RETURNING t.idx, t.sent, t.failed, t.uncertain, g.time_zone AS "zoneNow"`;

/**
 * One page of the scheduler tick: reads a page of grants, matches those that can run against
 * the due checks done so far, inserts the missing `queued` runs of the due ones, and answers
 * in one JSON document (see `DuePage` in store.ts): the due runs with the state their run had
 * before, and the grants whose (zone, hour) is not checked yet.
 *
 * Keyset over the primary key, with the can-run filter applied to the page rather than in
 * the index condition: a planner without statistics on `grants` (just loaded, not yet
 * analyzed) would otherwise sort every remaining grant for each page. The run lookup is a
 * correlated subquery, so it goes through the (grant_id, day) index whatever the statistics
 * of `runs`. All of it reads one snapshot, taken before the insert: a run another tick
 * inserted meanwhile is neither inserted nor returned, so its job is added again and
 * BullMQ's job id makes that a no-op.
 *
 * $1 the last grant id of the previous page ('' for the first); $2 page size; $3 the due
 * checks so far, a JSON array of [zone, hour, day or null, bad]; $4 whether the send hour is
 * ignored (every grant's hour counts as 0).
 */
export const QUEUE_DUE_PAGE = `
  WITH page AS MATERIALIZED (
    SELECT id, time_zone, send_hour, (${GRANT_CAN_RUN_SQL}) AS ok
    FROM grants WHERE id > $1 ORDER BY id LIMIT $2
  ),
  combo AS (
    SELECT e->>0 AS zone, (e->>1)::int AS hour, e->>2 AS day, (e->>3)::boolean AS bad
    FROM json_array_elements($3::json) AS e
  ),
  m AS MATERIALIZED (
    SELECT p.id, p.time_zone, p.send_hour, c.day, c.bad, c.zone IS NOT NULL AS known
    FROM page p LEFT JOIN combo c ON c.zone = p.time_zone AND c.hour = CASE WHEN $4 THEN 0 ELSE p.send_hour END
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
    'unknown', (SELECT coalesce(json_agg(json_build_array(m.id, m.time_zone, m.send_hour)), '[]')
                FROM m WHERE NOT m.known)
  )::text AS page`;

/**
 * The due runs of grants whose (zone, hour) a page statement could not match yet: inserts
 * the missing `queued` runs and answers each with the state its run had before, as JSON.
 * $1 a JSON array of [grant id, day, zone].
 */
export const QUEUE_DUE = `
  WITH d AS (SELECT e->>0 AS grant_id, e->>1 AS day, e->>2 AS time_zone FROM json_array_elements($1::json) AS e),
  ins AS (INSERT INTO runs (grant_id, day, time_zone) SELECT grant_id, day, time_zone FROM d
          ON CONFLICT (grant_id, day) DO NOTHING)
  SELECT json_agg(json_build_array(d.grant_id, d.day,
    (SELECT r.status FROM runs r WHERE r.grant_id = d.grant_id AND r.day = d.day)))::text AS due
  FROM d`;

/**
 * Reopened runs the tick may revive, with their grant's zone and send hour: days from $1 on of
 * grants that can run (few rows: through the (status, day) index).
 */
export const READ_REOPENED = `
  SELECT r.grant_id AS "grantId", r.day, g.time_zone AS "timeZone", g.send_hour AS "sendHour"
  FROM runs r JOIN (SELECT id, time_zone, send_hour FROM grants WHERE ${GRANT_CAN_RUN_SQL}) g ON g.id = r.grant_id
  WHERE r.status = 'reopened' AND r.day >= $1`;

/**
 * Completed runs the second sweep may re-run (src/runs/sweep.ts): not swept yet, of days from
 * $1 to $2, of grants that can run, with the grant's zone and when the run finished (few rows:
 * through the (status, day) index). $1 first day, $2 last day (text).
 */
export const READ_SWEEPABLE = `
  SELECT r.grant_id AS "grantId", r.day, g.time_zone AS "timeZone", r.finished_at AS "finishedAt"
  FROM runs r JOIN (SELECT id, time_zone FROM grants WHERE ${GRANT_CAN_RUN_SQL}) g ON g.id = r.grant_id
  WHERE r.status = 'completed' AND r.swept_at IS NULL AND r.day >= $1 AND r.day <= $2`;
