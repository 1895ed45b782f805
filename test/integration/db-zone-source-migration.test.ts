import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_MIGRATIONS_DIR, dropDatabase, ensureDatabase, migrate } from "../../src/db/migrate.js";
import { testDatabaseUrl, uniqueId } from "../support/db.js";

// What 20261202100000_zone_source does to grants and runs that exist when it is applied.
const MIGRATION = "20261202100000_zone_source";

describe(`migration ${MIGRATION} on existing rows`, () => {
  const u = new URL(testDatabaseUrl());
  u.pathname = `/${decodeURIComponent(u.pathname.slice(1))}_${uniqueId("zmig").toLowerCase()}`;
  const url = u.toString();
  const dir = mkdtempSync(join(tmpdir(), "reminders-migrations-"));
  afterAll(async () => {
    await dropDatabase(url).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it("labels Google grants off UTC `calendar`, every other grant `default`, and leaves runs without a source", async () => {
    // The migrations before this one, then rows as the release before it wrote them.
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    rmSync(join(dir, MIGRATION), { recursive: true });
    await ensureDatabase(url);
    await migrate(url, { migrationsDir: dir });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const grants = [
        ["g-berlin", "google", "Europe/Berlin"],
        ["g-utc", "google", "UTC"],
        ["m-berlin", "microsoft", "Europe/Berlin"],
        ["i-utc", "imap", "UTC"],
      ];
      for (const [id, provider, zone] of grants)
        await client.query(
          `INSERT INTO grants (id, email, provider, time_zone, updated_at) VALUES ($1, $1 || '@example.com', $2, $3, now())`,
          [id, provider, zone],
        );
      await client.query(
        `INSERT INTO runs (grant_id, day, time_zone, status) VALUES ('g-berlin', '2026-12-01', 'Europe/Berlin', 'completed')`,
      );

      const res = await migrate(url);
      expect(res.applied).toEqual([MIGRATION]);
      const rows = (
        await client.query<{ id: string; source: string }>(
          `SELECT id, time_zone_source::text AS source FROM grants ORDER BY id`,
        )
      ).rows;
      expect(Object.fromEntries(rows.map((r) => [r.id, r.source]))).toEqual({
        "g-berlin": "calendar",
        "g-utc": "default",
        "i-utc": "default",
        "m-berlin": "default",
      });
      const run = (await client.query(`SELECT time_zone_source, status::text FROM runs`)).rows[0];
      expect(run).toEqual({ time_zone_source: null, status: "completed" });
      // The new run status exists.
      await client.query(`UPDATE runs SET status = 'reopened'`);
    } finally {
      await client.end();
    }
  });
});
