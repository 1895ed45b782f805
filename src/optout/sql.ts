/**
 * The statements of src/optout/store.ts, which alone issues them (constants with bind
 * parameters, listed above each).
 */

/**
 * Suppresses a recipient for a sender ('' = every sender); suppressing again after an undo
 * reopens the same row. $1 recipient, $2 sender.
 */
export const SUPPRESS = `
  INSERT INTO suppressions (recipient, sender) VALUES ($1, $2)
  ON CONFLICT (recipient, sender) DO UPDATE SET undone_at = NULL, created_at = CASE
    WHEN suppressions.undone_at IS NULL THEN suppressions.created_at ELSE now() END`;

/** Undoes a suppression that holds; nothing when there is none. $1 recipient, $2 sender. */
export const UNDO = `
  UPDATE suppressions SET undone_at = now() WHERE recipient = $1 AND sender = $2 AND undone_at IS NULL`;

/**
 * Which of the recipients no reminder from this sender may reach: suppressed for it, or for
 * every sender. $1 sender (lowercase), $2 recipients (lowercase, text[]).
 */
export const SUPPRESSED_AMONG = `
  SELECT DISTINCT recipient FROM suppressions
  WHERE recipient = ANY($2::text[]) AND sender IN ('', $1) AND undone_at IS NULL`;
