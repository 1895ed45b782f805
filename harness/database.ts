import { dropDatabase, ensureDatabase, migrate } from "../src/db/migrate.js";

/** Server of the test/bench databases; its database name is replaced per use. */
export const SERVER_URL =
  process.env.TEST_DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/reminders_test";

export function databaseUrl(name: string, server = SERVER_URL): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`database name must be [a-z0-9_]+: ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops, creates and migrates a database of its own for a bench or chaos run. */
export async function freshDatabase(name: string): Promise<string> {
  const url = databaseUrl(name);
  await dropDatabase(url);
  await ensureDatabase(url);
  await migrate(url);
  return url;
}
