-- Which meetings a grant reminds of: organised by the user, all, or organised with outside guests.
CREATE TYPE "ReminderPolicy" AS ENUM ('organized', 'all', 'external');

-- Per-grant choices, null while the deployment's default applies.
ALTER TABLE "grants" ADD COLUMN "policy" "ReminderPolicy";
ALTER TABLE "grants" ADD COLUMN "locale" TEXT;
