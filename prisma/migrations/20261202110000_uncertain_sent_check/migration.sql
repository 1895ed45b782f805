-- A reminder that may have gone out and that nothing can check any more: never sent again.
ALTER TYPE "ReminderStatus" ADD VALUE 'uncertain';

-- Runs count those reminders.
ALTER TABLE "runs" ADD COLUMN "reminders_uncertain" INTEGER NOT NULL DEFAULT 0;

-- Why the Sent-folder check of a grant is off (its user did not grant mail read), null while on.
ALTER TABLE "grants" ADD COLUMN "sent_check_off" TEXT;
