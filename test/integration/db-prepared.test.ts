import { afterEach, describe, expect, it } from "vitest";
import { closePrisma, createPrisma, sqlOf, type Db } from "../../src/db/client.js";
import { testDatabaseUrl } from "../support/db.js";

const TEXT = "SELECT $1::int + 1 AS n /* db-prepared.test */";

/** The statements prepared on the client's one connection that carry TEXT. */
async function prepared(db: Db): Promise<string[]> {
  const rows = await db.$queryRawUnsafe<{ name: string; statement: string }[]>(
    "SELECT name, statement FROM pg_prepared_statements",
  );
  return rows.filter((r) => r.statement === TEXT).map((r) => r.name);
}

describe("the hot statements over Postgres", () => {
  let db: Db | undefined;
  afterEach(async () => {
    if (db) await closePrisma(db);
    db = undefined;
  });

  it("are prepared once per connection and reused by name", async () => {
    // One connection, so Prisma's own read below sees what the hot statements prepared.
    db = await createPrisma(testDatabaseUrl(), { max: 1 });
    const sql = sqlOf(db);
    expect(await sql.query<{ n: number }>(TEXT, [1])).toEqual([{ n: 2 }]);
    expect(await sql.query<{ n: number }>(TEXT, [41])).toEqual([{ n: 42 }]);
    const names = await prepared(db);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^nr_hot_\d+$/);
  });

  it("go unnamed behind a transaction-mode pooler (pgbouncer=true in the URL)", async () => {
    const url = new URL(testDatabaseUrl());
    url.searchParams.set("pgbouncer", "true");
    db = await createPrisma(url.toString(), { max: 1 });
    const sql = sqlOf(db);
    expect(await sql.query<{ n: number }>(TEXT, [1])).toEqual([{ n: 2 }]);
    expect(await prepared(db)).toEqual([]);
  });
});
