import { GRANT_CAN_RUN_SQL } from "../grants/status.js";

/**
 * The statements of src/reminders/ledger.ts and (READ_PEOPLE_FACTS) src/reminders/people.ts,
 * each issued by its module alone. Each is a constant text with bind parameters ($1, $2, …,
 * listed above it); values are never spliced into the text.
 * Batched statements take one array per column and unnest them, or (the claims, whose rows
 * are many and wide) one JSON document, so a batch of any size is one statement. Bigint ids
 * travel as text (one string per id in the arrays) and are cast back in the statement.
 */

/**
 * Claims a batch of reminders, inserting the rows not seen before, and returns the rows it
 * claimed by index with the state each had before (null for a new row). `previous` sees the
 * rows as they were (every part of a statement reads the snapshot taken before it); the
 * upsert only takes a row over when it is free (refused before with attempts left, or its
 * lease ran out). ON CONFLICT may touch each row once, so the batch
 * must not list a (grant, event id, event start, kind, audience) twice.
 * $1 the claims, a JSON array of objects with the columns of `t` below (`start_s`: the event's
 * start in Unix seconds; `recipients`: a JSON array; `composed_at`: the instant the message is
 * worded for, ISO 8601; `kind`: reminder or cancellation, part of the row's key; `audience`: ''
 * for a meeting's shared message, else its one recipient's address). One text parameter costs
 * the driver far less than an array per column. $2 the lease in seconds (double precision);
 * $3 claims allowed per reminder (int). A row taken over from a claim whose send may have gone
 * out keeps its own instant, so the retry words the message as that attempt did and Nylas sees
 * the same payload under the same idempotency key.
 */
export const CLAIM_REMINDERS = `
  WITH input AS MATERIALIZED (
    SELECT t.idx, t.grant_id, t.event_id, to_timestamp(t.start_s) AS event_start, t.day, t.title, t.recipients,
      t.marker, t.composed_at, t.kind, t.audience,
      -- Each row's state before the claim, looked up through the unique key's index, so a
      -- batch costs its own rows whatever the size of the table or the planner's statistics.
      (SELECT r.status::text FROM reminders r
        WHERE r.grant_id = t.grant_id AND r.event_id = t.event_id AND r.event_start = to_timestamp(t.start_s)
          AND r.kind = t.kind::"ReminderKind" AND r.audience = t.audience) AS previous
    FROM json_to_recordset($1::json)
      AS t(idx int, grant_id text, event_id text, start_s double precision, day text, title text, recipients jsonb,
           marker text, composed_at timestamptz, kind text, audience text)
  ), up AS (
    INSERT INTO reminders (grant_id, event_id, event_start, day, title, recipients, marker, status, attempts,
                           claimed_at, composed_at, updated_at, kind, audience)
    SELECT grant_id, event_id, event_start, day, title, recipients, marker, 'claimed', 1, now(), composed_at, now(),
           kind::"ReminderKind", audience
    FROM input ORDER BY idx
    ON CONFLICT (grant_id, event_id, event_start, kind, audience) DO UPDATE
      -- Only a claim after a refusal counts: taking over a claim whose send timed out or
      -- whose process died is not the reminder's fault and must not exhaust it.
      SET status = 'claimed', attempts = reminders.attempts + CASE WHEN reminders.status = 'failed' THEN 1 ELSE 0 END,
          claimed_at = now(), updated_at = now(),
          day = EXCLUDED.day, title = EXCLUDED.title, recipients = EXCLUDED.recipients,
          composed_at = CASE WHEN reminders.status = 'claimed'
                             THEN COALESCE(reminders.composed_at, EXCLUDED.composed_at)
                             ELSE EXCLUDED.composed_at END
      WHERE (reminders.status = 'claimed'
             AND reminders.claimed_at < now() - make_interval(secs => $2::double precision))
         OR (reminders.status = 'failed' AND reminders.attempts < $3::int)
    RETURNING id, marker, attempts, composed_at, grant_id, event_id, event_start, kind, audience
  )
  SELECT i.idx, up.id, up.marker, up.attempts, up.composed_at, i.previous
  FROM up JOIN input i ON i.grant_id = up.grant_id AND i.event_id = up.event_id AND i.event_start = up.event_start
    AND up.kind = i.kind::"ReminderKind" AND up.audience = i.audience`;

/**
 * The state of reminders a claim did not take, by index: status, attempts, and for a claimed
 * row the ms until its lease runs out (null otherwise). No row for a reminder that is absent.
 * $1 the reminders, a JSON array of objects with the columns of `i` below (as CLAIM_REMINDERS
 * takes them); $2 the lease in seconds (double precision).
 */
export const READ_REMINDER_STATES = `
  SELECT i.idx, r.status::text AS status, r.attempts,
         CASE WHEN r.status = 'claimed'
              THEN GREATEST(0, EXTRACT(EPOCH FROM
                     (r.claimed_at + make_interval(secs => $2::double precision) - now())) * 1000)::int
         END AS lease_left_ms
  FROM json_to_recordset($1::json) AS i(idx int, grant_id text, event_id text, start_s double precision, kind text, audience text)
  JOIN reminders r ON r.grant_id = i.grant_id AND r.event_id = i.event_id AND r.event_start = to_timestamp(i.start_s)
    AND r.kind = i.kind::"ReminderKind" AND r.audience = i.audience`;

/**
 * What a grant's day has sent, for a re-run to compare with the day as it is now (a meeting
 * moved or cancelled since): every sent row of the day, oldest send first.
 * $1 grant id, $2 day (text).
 */
export const READ_SENT_OF_DAY = `
  SELECT event_id AS "eventId", event_start AS "eventStart", kind::text AS kind, title, recipients, audience
  FROM reminders WHERE grant_id = $1 AND day = $2 AND status = 'sent'
  ORDER BY sent_at, id`;

/**
 * Marks a batch of reminders sent, each with its message id, and clears their last error.
 * $1 reminder ids (bigint[], given as text); $2 message ids (text[]).
 */
export const MARK_SENT = `
  UPDATE reminders r
  SET status = 'sent', message_id = m.message_id, sent_at = now(), last_error = NULL, updated_at = now()
  FROM unnest($1::bigint[], $2::text[]) AS m(id, message_id)
  WHERE r.id = m.id`;

/**
 * Marks a reminder's send refused, handing back an attempt when the refusal is not the
 * reminder's fault. $1 reminder id (bigint); $2 the error, scrubbed (text); $3 attempts
 * handed back (int: 0 or 1).
 */
export const MARK_FAILED = `
  UPDATE reminders SET status = 'failed', last_error = $2::text, attempts = attempts - $3::int, updated_at = now()
  WHERE id = $1::bigint`;

/**
 * Closes a reminder for good: refused, every attempt used up, never claimed again.
 * $1 reminder id (bigint); $2 the error, scrubbed (text); $3 claims allowed per reminder (int).
 */
export const MARK_FAILED_FINAL = `
  UPDATE reminders
  SET status = 'failed', last_error = $2::text, attempts = GREATEST(attempts, $3::int), updated_at = now()
  WHERE id = $1::bigint`;

/**
 * Closes a reminder whose send may or may not have gone out, never to be claimed again.
 * $1 reminder id (bigint); $2 the reason, scrubbed (text).
 */
export const MARK_UNCERTAIN = `
  UPDATE reminders SET status = 'uncertain', last_error = $2::text, updated_at = now() WHERE id = $1::bigint`;

/**
 * Closes a claimed reminder without sending it, never to be claimed again (the claim treats
 * `skipped` as done). Only a row still claimed changes.
 * $1 reminder id (bigint); $2 the reason (text).
 */
export const MARK_SKIPPED = `
  UPDATE reminders SET status = 'skipped', last_error = $2::text, updated_at = now()
  WHERE id = $1::bigint AND status = 'claimed'`;

/**
 * Keeps a reminder's claim but lets the next attempt take it at once (its lease ran out at
 * the epoch). $1 reminder id (bigint); $2 the error, scrubbed (text).
 */
export const RELEASE = `
  UPDATE reminders SET last_error = $2::text, claimed_at = to_timestamp(0), updated_at = now() WHERE id = $1::bigint`;

/**
 * Hands back claims that were never sent: an uncertain one keeps its status and is released,
 * the others become refusals that cost no attempt. Only rows still claimed change.
 * $1 reminder ids (bigint[], given as text); $2 whether each is uncertain (boolean[]);
 * $3 the error, scrubbed (text).
 */
export const UNCLAIM = `
  UPDATE reminders r SET
    status = CASE WHEN c.uncertain THEN r.status ELSE 'failed'::"ReminderStatus" END,
    attempts = r.attempts - CASE WHEN c.uncertain THEN 0 ELSE 1 END,
    claimed_at = CASE WHEN c.uncertain THEN to_timestamp(0) ELSE r.claimed_at END,
    last_error = $3::text, updated_at = now()
  FROM unnest($1::bigint[], $2::boolean[]) AS c(id, uncertain)
  WHERE r.id = c.id AND r.status = 'claimed'`;

/**
 * What a batch of runs must know about their meetings' people, in one statement: for each
 * run (by index), which of its recipients no reminder from its sender may reach (suppressed
 * for that sender or for every sender: the rule of src/optout/store.ts' SUPPRESSED_AMONG),
 * and the peer grants (the run's grant, when it asked about peers,
 * and the grants that can run among its people). Rows: [idx, 'suppressed', address] or
 * [idx, 'grant', id, email, policy]; a grant may come twice for one run (as itself and as a
 * peer).
 * $1 run indexes (int[]); $2 grant ids, $3 senders, lowercased (text[]); $4, $5 the recipients
 * to check, as (run index, lowercased address) pairs (int[], text[]); $6, $7 the people whose
 * grants are looked for, likewise. Run indexes are positions in $1 from 0, so a run's sender
 * is $3[idx + 1]. Every lookup goes through its index row by row (OFFSET 0 keeps each lateral
 * subquery apart, and the can-run filter outside it, where it cannot pull in the status
 * index), so a batch costs its own rows whatever the size of `grants`.
 */
export const READ_PEOPLE_FACTS = `
  WITH s AS (SELECT * FROM unnest($4::int[], $5::text[]) AS t(idx, address)),
  p AS (SELECT * FROM unnest($6::int[], $7::text[]) AS t(idx, address))
  SELECT s.idx, 'suppressed' AS kind, s.address AS id, NULL AS email, NULL AS policy
  FROM s
  WHERE EXISTS (SELECT 1 FROM suppressions x
                WHERE x.recipient = s.address AND x.sender IN ('', ($3::text[])[s.idx + 1]) AND x.undone_at IS NULL)
  UNION ALL
  SELECT r.idx, 'grant', g.id, g.email, g.policy::text
  FROM unnest($1::int[], $2::text[]) AS r(idx, grant_id)
  CROSS JOIN LATERAL (SELECT id, email, policy FROM grants WHERE id = r.grant_id OFFSET 0) g
  WHERE r.idx IN (SELECT unnest($6::int[]))
  UNION ALL
  SELECT p.idx, 'grant', g.id, g.email, g.policy::text
  FROM p CROSS JOIN LATERAL (
    SELECT id, email, policy, status, enabled, provider FROM grants WHERE lower(email) = p.address OFFSET 0
  ) g
  WHERE ${GRANT_CAN_RUN_SQL}`;
