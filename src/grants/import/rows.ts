/**
 * The import file as a stream of checked rows: each line read (./file.ts), checked (./row.ts),
 * and an address already on an earlier line marked as a duplicate. Only the addresses seen
 * stay in memory (one small entry a row), never a row's credentials once it has passed.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { detectFormat, readLine, type FileFormat, type ImportColumn } from "./file.js";
import { checkRow, rowKey, type RowCheck } from "./row.js";

export type FileItem =
  | { line: number; kind: "malformed"; problem: string }
  | { line: number; kind: "row"; check: RowCheck; duplicateOf?: number };

/** The file's lines, as read and checked. */
export async function* readImportFile(path: string, format?: FileFormat): AsyncGenerator<FileItem> {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  let n = 0;
  let fmt = format;
  let columns: ImportColumn[] | undefined;
  const seen = new Map<string, number>();
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    fmt ??= detectFormat(path, text);
    const read = readLine(fmt, text, columns);
    if (read.kind === "blank") continue;
    if (read.kind === "header") {
      columns = read.columns;
      continue;
    }
    if (read.kind === "malformed") {
      yield { line: n, kind: "malformed", problem: read.problem };
      continue;
    }
    const check = checkRow(read.record, n);
    const email = check.ok ? check.row.email : check.email;
    if (email !== undefined) {
      const first = seen.get(rowKey(email));
      if (first !== undefined) {
        yield { line: n, kind: "row", check, duplicateOf: first };
        continue;
      }
      seen.set(rowKey(email), n);
    }
    yield { line: n, kind: "row", check };
  }
}
