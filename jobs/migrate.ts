// `npm run db:migrate` — applies prisma/migrations to DATABASE_URL without Prisma's native
// schema engine, keeping `_prisma_migrations` exactly as `prisma migrate deploy` keeps it (see
// src/db/migrate.ts). Suitable for the release phase.
//
//   npm run db:migrate                 migrate DATABASE_URL
//   npm run db:migrate -- --create-db  create the database first when it does not exist
//   npm run db:migrate -- --lock-timeout-ms 60000
import { ensureDatabase, migrate, MigrationError } from "../src/db/migrate.js";
import { scrubText } from "../src/log/logger.js";

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const url = argValue("--url") ?? process.env.DATABASE_URL;
  if (!url) {
    console.error("db:migrate: DATABASE_URL is not set (a postgresql:// connection string)");
    return 2;
  }
  const lockTimeout = argValue("--lock-timeout-ms");
  const lockTimeoutMs = lockTimeout ? Number(lockTimeout) : undefined;
  if (lockTimeoutMs !== undefined && !(Number.isInteger(lockTimeoutMs) && lockTimeoutMs >= 0)) {
    console.error("db:migrate: --lock-timeout-ms expects a whole number of milliseconds");
    return 2;
  }
  try {
    if (process.argv.includes("--create-db") && (await ensureDatabase(url)))
      console.log("db:migrate: created the database");
    await migrate(url, { lockTimeoutMs, log: (line) => console.log(`db:migrate: ${line}`) });
    return 0;
  } catch (err) {
    const message = err instanceof MigrationError ? err.message : `${(err as Error).message ?? String(err)}`;
    console.error(`db:migrate: ${scrubText(message.split("\n")[0] ?? "")}`);
    return 1;
  }
}

process.exitCode = await main();
