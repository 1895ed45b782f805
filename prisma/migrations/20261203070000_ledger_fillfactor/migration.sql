-- A reminder row is written twice: claimed, then marked. Room left on its page lets the
-- mark be a heap-only update (no new entry in any of the four indexes).
ALTER TABLE "reminders" SET (fillfactor = 50);
