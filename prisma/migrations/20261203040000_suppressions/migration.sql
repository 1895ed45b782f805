-- Recipients who asked for no more reminders. sender is a grant's lowercase address, or ''
-- for every sender of this deployment. An undone suppression keeps its row (undone_at set)
-- so that suppressing again is one idempotent upsert.
CREATE TABLE "suppressions" (
    "id" BIGSERIAL NOT NULL,
    "recipient" TEXT NOT NULL,
    "sender" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "undone_at" TIMESTAMPTZ(3),

    CONSTRAINT "suppressions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "suppressions_recipient_sender_key" ON "suppressions"("recipient", "sender");
