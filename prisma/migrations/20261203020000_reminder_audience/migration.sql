-- A ledger row is one message: '' is the message shared by all of a meeting's recipients,
-- otherwise the lowercase address of the one recipient a message of its own goes to.
-- The unique key takes the column in 20261203061000_reminder_audience_key, after the one
-- that added the kind (20261203060000_rerun_changes) replaced the key.
ALTER TABLE "reminders" ADD COLUMN "audience" TEXT NOT NULL DEFAULT '';
