import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { GRANT_ID_RULE, isGrantId, UsageError } from "./args.js";

/** More than this is a job for --all (and a typo'd file of millions a clear error, not a stall). */
export const MAX_FILE_GRANTS = 100_000;
/** A grant id is at most 256 characters; a longer line is not a list of ids. */
const MAX_LINE = 1024;

/**
 * One line of a grants file: its id, or undefined for a blank or comment-only line. Text
 * after `#` is a comment; a line holding anything but one grant id is a UsageError naming
 * the line.
 */
export function parseGrantLine(line: string, lineNo: number, name: string): string | undefined {
  const hash = line.indexOf("#");
  const text = (hash < 0 ? line : line.slice(0, hash)).trim();
  if (text === "") return undefined;
  if (!isGrantId(text))
    throw new UsageError(
      `${where(name, lineNo)}: ${JSON.stringify(text.slice(0, 60))} is not a grant id (${GRANT_ID_RULE})`,
    );
  return text;
}

/**
 * The ids of a grants file (`-`: stdin), in file order without duplicates. Streamed: only
 * the ids are kept, never the whole file, and a line is checked as soon as it ends.
 */
export async function readGrantsFile(name: string, stdin: Readable = process.stdin): Promise<string[]> {
  const source = name === "-" ? stdin : createReadStream(name);
  source.setEncoding("utf8");
  const ids = new Set<string>();
  let partial = "";
  let lineNo = 0;
  const take = (line: string) => {
    lineNo++;
    const id = parseGrantLine(lineNo === 1 ? line.replace(/^\uFEFF/, "") : line, lineNo, name);
    if (id === undefined) return;
    ids.add(id);
    if (ids.size > MAX_FILE_GRANTS)
      throw new UsageError(
        `${label(name)} names more than ${MAX_FILE_GRANTS.toLocaleString("en-US")} grants; use --all or split it`,
      );
  };
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const line of lines) take(line);
      if (partial.length > MAX_LINE)
        throw new UsageError(`${where(name, lineNo + 1)}: longer than ${MAX_LINE} characters, not a grant id`);
    }
    if (partial !== "") take(partial);
  } catch (err) {
    if (name !== "-") (source as ReturnType<typeof createReadStream>).destroy();
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${label(name)}: ${readProblem(err)}`);
  }
  if (ids.size === 0)
    throw new UsageError(`${label(name)} names no grant (one id a line; blank lines and # comments are ignored)`);
  return [...ids];
}

function label(name: string): string {
  return name === "-" ? "--grants-file - (stdin)" : `--grants-file ${name}`;
}

function where(name: string, lineNo: number): string {
  return `${label(name)} line ${lineNo}`;
}

function readProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return (err as Error).message?.split("\n")[0] ?? "unreadable";
}
