-- Where a grant's time zone comes from (override > calendar > browser > events > default), and
-- the same recorded on each run when it starts. A completed run whose grant moved to a zone
-- whose day reaches past what was covered becomes `reopened` until it runs again.

-- AlterEnum
ALTER TYPE "RunStatus" ADD VALUE 'reopened';

-- CreateEnum
CREATE TYPE "ZoneSource" AS ENUM ('override', 'calendar', 'browser', 'events', 'default');

-- AlterTable
ALTER TABLE "grants" ADD COLUMN "time_zone_source" "ZoneSource" NOT NULL DEFAULT 'default';

-- Existing grants: a Google calendar always reports its zone (Nylas returns `timezone` for Google
-- and virtual calendars only), so a Google grant on a zone other than UTC, the shipped
-- DEFAULT_TIME_ZONE, took it from its calendar. Every other grant is labelled `default`, the
-- weakest source: the next grants sync, webhook or sign-in puts the best source it finds in its
-- place (a Google grant on UTC becomes `calendar` then too), and until then nothing changes.
UPDATE "grants" SET "time_zone_source" = 'calendar' WHERE "provider" = 'google' AND "time_zone" <> 'UTC';

-- AlterTable
ALTER TABLE "runs" ADD COLUMN "time_zone_source" "ZoneSource";
