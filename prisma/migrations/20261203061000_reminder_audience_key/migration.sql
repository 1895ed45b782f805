-- The unique key names the message, not only the meeting and the kind.
DROP INDEX "reminders_grant_id_event_id_event_start_kind_key";
CREATE UNIQUE INDEX "reminders_grant_id_event_id_event_start_kind_audience_key" ON "reminders"("grant_id", "event_id", "event_start", "kind", "audience");
