-- CreateEnum
CREATE TYPE "GrantStatus" AS ENUM ('valid', 'needs_reauth', 'revoked');

-- CreateEnum
CREATE TYPE "ReminderStatus" AS ENUM ('claimed', 'sent', 'failed', 'skipped');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('queued', 'running', 'completed', 'failed', 'needs_reauth');

-- CreateTable
CREATE TABLE "grants" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "time_zone" TEXT NOT NULL,
    "calendar_id" TEXT NOT NULL DEFAULT 'primary',
    "status" "GrantStatus" NOT NULL DEFAULT 'valid',
    "status_reason" TEXT,
    "status_changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "send_hour" INTEGER NOT NULL DEFAULT 18,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "grants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reminders" (
    "id" BIGSERIAL NOT NULL,
    "grant_id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "event_start" TIMESTAMPTZ(3) NOT NULL,
    "day" TEXT NOT NULL,
    "title" TEXT NOT NULL DEFAULT '',
    "recipients" JSONB NOT NULL,
    "marker" TEXT NOT NULL,
    "status" "ReminderStatus" NOT NULL DEFAULT 'claimed',
    "message_id" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "claimed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reminders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runs" (
    "id" BIGSERIAL NOT NULL,
    "grant_id" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'queued',
    "job_id" TEXT,
    "time_zone" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3),
    "window_end" TIMESTAMPTZ(3),
    "meetings_seen" INTEGER NOT NULL DEFAULT 0,
    "reminders_sent" INTEGER NOT NULL DEFAULT 0,
    "reminders_failed" INTEGER NOT NULL DEFAULT 0,
    "reminders_skipped" INTEGER NOT NULL DEFAULT 0,
    "skipped_by_reason" JSONB NOT NULL DEFAULT '{}',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "enqueued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "duration_ms" INTEGER,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "grant_id" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "grants_status_enabled_id_idx" ON "grants"("status", "enabled", "id");

-- CreateIndex
CREATE UNIQUE INDEX "reminders_marker_key" ON "reminders"("marker");

-- CreateIndex
CREATE INDEX "reminders_grant_id_day_idx" ON "reminders"("grant_id", "day");

-- CreateIndex
CREATE UNIQUE INDEX "reminders_grant_id_event_id_event_start_key" ON "reminders"("grant_id", "event_id", "event_start");

-- CreateIndex
CREATE INDEX "runs_status_day_idx" ON "runs"("status", "day");

-- CreateIndex
CREATE UNIQUE INDEX "runs_grant_id_day_key" ON "runs"("grant_id", "day");

-- AddForeignKey
ALTER TABLE "reminders" ADD CONSTRAINT "reminders_grant_id_fkey" FOREIGN KEY ("grant_id") REFERENCES "grants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_grant_id_fkey" FOREIGN KEY ("grant_id") REFERENCES "grants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
