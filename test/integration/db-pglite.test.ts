import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Prisma, closePrisma, createPrisma, pgliteOf } from "../../src/db/client.js";
import { migrate, pgliteExecutor, readMigrations } from "../../src/db/migrate.js";

// The embedded path (no DATABASE_URL): PGlite through pglite-prisma-adapter, migrated by the
// same migrator, with the schema's enums, JSONB, BigInt ids and timestamptz.

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const local = await readMigrations();

// Each PGlite instance runs initdb in WebAssembly: several seconds apiece.
const PGLITE_TIMEOUT = 120_000;

describe("PGlite", () => {
  it(
    "migrates an in-memory database and round-trips every model",
    async () => {
      const db = await createPrisma(undefined, { pgliteDataDir: "memory" });
      try {
        const pglite = pgliteOf(db)!;
        const rows = (
          await pglite.query<{
            migration_name: string;
            checksum: string;
            applied_steps_count: number;
            finished_at: Date | null;
          }>(
            "SELECT migration_name, checksum, applied_steps_count, finished_at FROM _prisma_migrations ORDER BY started_at",
          )
        ).rows;
        expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count])).toEqual(
          local.map((m) => [m.name, m.checksum, 1]),
        );
        expect(rows.every((r) => r.finished_at !== null)).toBe(true);

        const g = await db.grant.create({
          data: { id: "g1", email: "a@example.com", provider: "google", timeZone: "Europe/Berlin" },
        });
        expect(g).toMatchObject({
          calendarId: "primary",
          status: "valid",
          sendHour: 18,
          enabled: true,
          statusReason: null,
        });
        const eventStart = new Date("2026-03-29T00:30:00.123Z");
        const r = await db.reminder.create({
          data: {
            grantId: "g1",
            eventId: "e1",
            eventStart,
            day: "2026-03-29",
            recipients: [{ email: "b@example.com", name: "B" }],
            marker: "m1",
          },
        });
        expect(typeof r.id).toBe("bigint");
        expect(r.eventStart.toISOString()).toBe("2026-03-29T00:30:00.123Z");
        expect(r.recipients).toEqual([{ email: "b@example.com", name: "B" }]);
        const sent = await db.reminder.update({
          where: { id: r.id },
          data: { status: "sent", messageId: "msg", sentAt: new Date() },
        });
        expect(sent.status).toBe("sent");
        expect(sent.updatedAt.getTime()).toBeGreaterThanOrEqual(r.updatedAt.getTime());

        const dup = await db.reminder
          .create({
            data: { grantId: "g1", eventId: "e1", eventStart, day: "2026-03-29", recipients: [], marker: "m2" },
          })
          .catch((e: unknown) => e);
        expect(dup).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
        expect((dup as Prisma.PrismaClientKnownRequestError).code).toBe("P2002");

        const run = await db.run.create({
          data: { grantId: "g1", day: "2026-03-29", timeZone: "Europe/Berlin", skippedByReason: { all_day: 2 } },
        });
        expect(typeof run.id).toBe("bigint");
        expect(run).toMatchObject({ status: "queued", skippedByReason: { all_day: 2 }, meetingsSeen: 0 });
        await db.run.update({
          where: { grantId_day: { grantId: "g1", day: "2026-03-29" } },
          data: { status: "needs_reauth" },
        });

        const wh = await db.webhookDelivery.create({ data: { id: "wh1", type: "grant.updated" } });
        expect(wh.receivedAt).toBeInstanceOf(Date);

        await db.grant.update({ where: { id: "g1" }, data: { status: "needs_reauth", statusReason: "401" } });
        expect(await db.grant.count({ where: { status: "needs_reauth" } })).toBe(1);

        await db.grant.delete({ where: { id: "g1" } });
        expect(await db.reminder.count()).toBe(0);
        expect(await db.run.count()).toBe(0);

        // Interactive transactions work on the single PGlite connection.
        await db.$transaction(async (tx) => {
          await tx.grant.create({ data: { id: "g2", email: "c@example.com", provider: "imap", timeZone: "UTC" } });
          await tx.webhookDelivery.delete({ where: { id: "wh1" } });
        });
        expect(await db.grant.count()).toBe(1);
      } finally {
        await closePrisma(db);
      }
    },
    PGLITE_TIMEOUT,
  );

  it(
    "keeps a data directory across reopenings and does not migrate twice",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "reminders-pglite-"));
      dirs.push(dir);
      const first = await createPrisma(undefined, { pgliteDataDir: dir });
      await first.grant.create({
        data: { id: "kept", email: "k@example.com", provider: "google", timeZone: "Asia/Tokyo" },
      });
      await closePrisma(first);

      const lines: string[] = [];
      const second = await createPrisma(undefined, {
        pgliteDataDir: dir,
        migrateOptions: { log: (l) => lines.push(l) },
      });
      try {
        expect(lines.some((l) => l.startsWith("database is up to date"))).toBe(true);
        expect((await second.grant.findUniqueOrThrow({ where: { id: "kept" } })).timeZone).toBe("Asia/Tokyo");
        const again = await migrate(pgliteExecutor(pgliteOf(second)!));
        expect(again.applied).toEqual([]);
        expect(again.alreadyApplied).toEqual(local.map((m) => m.name));
      } finally {
        await closePrisma(second);
      }
    },
    PGLITE_TIMEOUT,
  );
});
