import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { closePrisma, createPrisma, type Db } from "../../src/db/client.js";

/**
 * Each vitest worker has a database of its own (a clone of the one global-setup.ts migrated,
 * see worker-database.ts); the files that one worker runs, one after another, share it. They
 * stay out of each other's way by using unique ids ({@link uniqueId}) and deleting only what
 * they created ({@link deleteGrants}); nothing here truncates tables.
 */

/** This worker's freshly migrated test database: `<template>_w<VITEST_POOL_ID>`. */
export function testDatabaseUrl(): string {
  const template = inject("databaseUrl");
  const pool = process.env.VITEST_POOL_ID;
  if (!template || !pool) throw new Error("no test database: run through vitest (see vitest.config.ts)");
  const url = new URL(template);
  url.pathname = `${url.pathname}_w${pool}`;
  return url.toString();
}

let shared: Promise<Db> | undefined;

/** A Prisma client on the test database, shared by the tests of one file. */
export function testPrisma(): Promise<Db> {
  shared ??= createPrisma(testDatabaseUrl(), { max: 4 });
  return shared;
}

/** Disconnects the shared client (call from afterAll). */
export async function closeTestPrisma(): Promise<void> {
  const p = shared;
  shared = undefined;
  if (p) await closePrisma(await p);
}

/** A fresh client of its own (the caller closes it with closePrisma). */
export function newTestPrisma(): Promise<Db> {
  return createPrisma(testDatabaseUrl(), { max: 2 });
}

/** An id nobody else in this run uses: `<prefix>_<pid>_<time>_<random>`. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}_${process.pid.toString(36)}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** Deletes the given grants; reminders and runs go with them (ON DELETE CASCADE). */
export async function deleteGrants(prisma: Db, ids: string[]): Promise<void> {
  if (ids.length > 0) await prisma.grant.deleteMany({ where: { id: { in: ids } } });
}
