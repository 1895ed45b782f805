-- Meetings that change after the run. A ledger row is a reminder or a cancellation notice,
-- each sent at most once per (grant, event, start): the kind joins the unique key.
CREATE TYPE "ReminderKind" AS ENUM ('reminder', 'cancellation');
ALTER TABLE "reminders" ADD COLUMN "kind" "ReminderKind" NOT NULL DEFAULT 'reminder';
DROP INDEX "reminders_grant_id_event_id_event_start_key";
CREATE UNIQUE INDEX "reminders_grant_id_event_id_event_start_kind_key" ON "reminders"("grant_id", "event_id", "event_start", "kind");

-- When the second sweep (no webhooks) re-ran the day: once per day.
ALTER TABLE "runs" ADD COLUMN "swept_at" TIMESTAMPTZ(3);
