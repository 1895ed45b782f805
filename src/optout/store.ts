/**
 * The one writer of the `suppressions` table: recipients who asked for no more reminders,
 * from one sender (a grant's address) or from every sender ('').
 */
import type { Db } from "../db/client.js";
import { SUPPRESS, SUPPRESSED_AMONG, UNDO } from "./sql.js";

/** Every sender of this deployment. */
export const ANY_SENDER = "";

const norm = (address: string) => address.trim().toLowerCase();

/** Stops reminders from `sender` ('' = anyone) to `recipient`. Idempotent. */
export async function suppress(db: Db, recipient: string, sender: string): Promise<void> {
  await db.$executeRawUnsafe(SUPPRESS, norm(recipient), norm(sender));
}

/** Lets them through again. Idempotent; true when a suppression was undone. */
export async function undo(db: Db, recipient: string, sender: string): Promise<boolean> {
  return (await db.$executeRawUnsafe(UNDO, norm(recipient), norm(sender))) > 0;
}

/** The recipients (lowercase) that no reminder from `senderEmail` may reach. */
export async function listSuppressedFor(
  db: Db,
  senderEmail: string,
  recipients: readonly string[],
): Promise<Set<string>> {
  const wanted = [...new Set(recipients.map(norm))];
  if (wanted.length === 0) return new Set();
  const rows = await db.$queryRawUnsafe<{ recipient: string }[]>(SUPPRESSED_AMONG, norm(senderEmail), wanted);
  return new Set(rows.map((r) => r.recipient));
}
