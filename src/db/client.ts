import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaClient, type Prisma } from "./generated/client.js";
import { migrate, pgliteExecutor, type MigrateOptions } from "./migrate.js";

export { Prisma, PrismaClient } from "./generated/client.js";
export type { Grant, Reminder, Run, WebhookDelivery } from "./generated/client.js";
export { GrantStatus, ReminderStatus, RunStatus, ZoneSource } from "./generated/enums.js";

/** The Prisma client every module receives (created by {@link createPrisma}). */
export type Db = PrismaClient;

export interface CreatePrismaOptions {
  /** Size of the node-postgres pool (Postgres only). */
  max?: number;
  /**
   * Embedded PGlite only (no URL): where its data lives. A directory path, or `"memory"` for a
   * throw-away in-memory database. Default: `PGLITE_DATA_DIR`, else `.demo-data/pglite`.
   */
  pgliteDataDir?: string;
  /** Embedded PGlite only: run the migrations on open (default true). */
  migrate?: boolean;
  /** Passed to the migrator when PGlite is migrated on open. */
  migrateOptions?: MigrateOptions;
}

/** What each client owns besides itself, so {@link closePrisma} can release it. */
const owned = new WeakMap<
  object,
  { pglite?: PGlite; pool?: pg.Pool; connected?: Promise<void>; /** name the hot statements */ prepare?: boolean }
>();

/**
 * `pgbouncer=true` in the URL (Prisma's own convention): a pooler in transaction mode may hand
 * each statement to another server connection, where a statement prepared on the first is
 * unknown, so the hot statements go unnamed.
 */
function behindPooler(databaseUrl: string): boolean {
  try {
    return new URL(databaseUrl).searchParams.get("pgbouncer") === "true";
  } catch {
    return false;
  }
}

/**
 * A Prisma client over Postgres (`@prisma/adapter-pg`) when given a connection string;
 * without one, over an embedded PGlite database (`pglite-prisma-adapter`) that is migrated
 * with the same migrations on open. PGlite is for the demo and quick local runs: one process,
 * one connection, no server.
 */
export async function createPrisma(databaseUrl?: string, options: CreatePrismaOptions = {}): Promise<Db> {
  if (databaseUrl) {
    // The pool is ours so the hot statements can use it directly (see `sqlOf`); Prisma still
    // owns its life: $disconnect ends it.
    const pool = new pg.Pool({ connectionString: databaseUrl, ...(options.max ? { max: options.max } : {}) });
    // An idle connection that breaks is replaced on the next checkout; until Prisma connects
    // and attaches its own handler, this one keeps the error from killing the process.
    pool.on("error", () => {});
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
    owned.set(prisma, { pool, prepare: !behindPooler(databaseUrl) });
    return prisma;
  }

  // Loaded only on this path, so Postgres processes never load the embedded database.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("pglite-prisma-adapter"),
  ]);
  const dataDir = options.pgliteDataDir ?? process.env.PGLITE_DATA_DIR ?? ".demo-data/pglite";
  let pglite: PGlite;
  if (dataDir === "memory" || dataDir.startsWith("memory://")) {
    pglite = await PGlite.create();
  } else {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    pglite = await PGlite.create(dir);
  }
  try {
    if (options.migrate !== false) await migrate(pgliteExecutor(pglite), options.migrateOptions);
  } catch (err) {
    await pglite.close().catch(() => {});
    throw err;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  owned.set(prisma, { pglite });
  return prisma;
}

/**
 * How the statements of the nightly hot path reach Postgres (the runs' grant read, start and
 * finish, the ledger's claims and marks, the people read): constant SQL with bind
 * parameters, every parameter cast in the text. Over Postgres they go to the driver's pool
 * directly, skipping Prisma's raw-query layer, which cost more CPU than the driver itself;
 * over PGlite, or inside a Prisma transaction, through `$queryRawUnsafe`. Column values come
 * back as node-postgres gives them: bigint (int8) as a string or (Prisma) a BigInt, so
 * callers convert with `BigInt()` or `Number()`.
 */
export interface Sql {
  query<T>(text: string, params: readonly unknown[]): Promise<T[]>;
}

// Each statement is prepared once per connection (a named statement): Postgres then skips
// parsing it, and planning it once it has settled on a generic plan, and its long text is not
// sent again with every call. The texts are constants, so the names stay few; a text beyond
// the cap goes unnamed.
const statementNames = new Map<string, string>();
const NAMED_MAX = 64;

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < NAMED_MAX) {
    name = `nr_hot_${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name;
}

export function sqlOf(db: Db | Prisma.TransactionClient): Sql {
  const entry = owned.get(db);
  const pool = entry?.pool;
  if (!entry || !pool) return { query: (text, params) => db.$queryRawUnsafe(text, ...params) };
  return {
    async query<T>(text: string, params: readonly unknown[]): Promise<T[]> {
      // Prisma connects first, so that its $disconnect ends the pool these queries use.
      entry.connected ??= (db as Db).$connect().catch((err: unknown) => {
        entry.connected = undefined;
        throw err;
      });
      await entry.connected;
      const name = entry.prepare ? statementName(text) : undefined;
      const values = params as unknown[];
      return (await (name ? pool.query({ name, text, values }) : pool.query(text, values))).rows as T[];
    },
  };
}

/** The embedded PGlite instance behind a client from {@link createPrisma}, if any. */
export function pgliteOf(prisma: Db): PGlite | undefined {
  return owned.get(prisma)?.pglite;
}

/** Disconnects the client and, for PGlite, closes the embedded database. */
export async function closePrisma(prisma: Db): Promise<void> {
  const extra = owned.get(prisma);
  try {
    await prisma.$disconnect();
  } finally {
    if (extra?.pglite && !extra.pglite.closed) await extra.pglite.close();
    owned.delete(prisma);
  }
}
