-- AlterTable: the instant a reminder's wording is relative to ("today", "tomorrow"), so that a
-- retry of a send whose outcome is unknown sends the same message under the same Idempotency-Key.
ALTER TABLE "reminders" ADD COLUMN "composed_at" TIMESTAMPTZ(3);
