/**
 * The report beside the input file (`<file>.report.jsonl`): one JSON line per row and run,
 * appended as each row finishes, so an interrupted run leaves what it did. It names rows by
 * line and address, never by their credentials. The next run of the same file reads it back
 * to skip the rows an earlier run finished (their grants still in the database).
 */
import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { rowKey } from "./row.js";

export const OUTCOMES = ["created", "existing", "duplicate", "refused", "invalid", "failed"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What each outcome means, for the summary and the README. */
export const OUTCOME_MEANING: Record<Outcome, string> = {
  created: "a grant stored in the database for the first time",
  existing: "the address' grant was in the database already (nothing new)",
  duplicate: "the address is on an earlier line of the file: skipped",
  refused: "Nylas refused the credentials (its reason in the report)",
  invalid: "the row's values are wrong (the problems in the report)",
  failed: "Nylas or the database failed repeatedly: run the import again",
};

export interface RowReport {
  line: number;
  email?: string;
  provider?: string;
  outcome: Outcome;
  grant_id?: string;
  reason?: string;
}

export function reportPathFor(input: string): string {
  return `${input}.report.jsonl`;
}

/** Grant ids of the addresses an earlier run imported (created or existing), by address. */
export async function readFinishedRows(path: string): Promise<Map<string, string>> {
  const done = new Map<string, string>();
  if (!existsSync(path)) return done;
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  for await (const text of lines) {
    let r: Partial<RowReport>;
    try {
      r = JSON.parse(text) as Partial<RowReport>;
    } catch {
      continue; // a line cut short by a crash
    }
    if ((r.outcome === "created" || r.outcome === "existing") && typeof r.email === "string" && r.grant_id)
      done.set(rowKey(r.email), r.grant_id);
  }
  return done;
}

/** A run's first line in the report. */
export function runLine(file: string, startedAt: Date): string {
  return JSON.stringify({ run: startedAt.toISOString(), file });
}

export function rowLine(r: RowReport): string {
  return JSON.stringify(r);
}

/** Removes every credential of the row from a text (Nylas' reason, an error): they never leave memory. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[secret]");
  return out;
}
