-- A ledger row is one message: '' is the message shared by all of a meeting's recipients,
-- otherwise the lowercase address of the one recipient a message of its own goes to.
ALTER TABLE "reminders" ADD COLUMN "audience" TEXT NOT NULL DEFAULT '';

-- The unique key names the message, not only the meeting.
DROP INDEX "reminders_grant_id_event_id_event_start_key";
CREATE UNIQUE INDEX "reminders_grant_id_event_id_event_start_audience_key" ON "reminders"("grant_id", "event_id", "event_start", "audience");
