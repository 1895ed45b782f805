/**
 * The import file, line by line (pure): CSV with a header line, or JSON Lines, each line one
 * record of named values. A line that cannot be read as a record (a CSV line with the wrong
 * number of fields or an unclosed quote, a JSON line that is not an object) makes the file
 * malformed; what a record's values mean is checked in ./row.ts.
 */

export type FileFormat = "csv" | "jsonl";

/** An IMAP account's credentials and servers. */
export const IMAP_COLUMNS = [
  "imap_username",
  "imap_password",
  "imap_host",
  "imap_port",
  "smtp_host",
  "smtp_port",
] as const;

/** The columns a file may have: the user, the credentials, and the user's settings. */
export const IMPORT_COLUMNS = [
  "provider",
  "email",
  "refresh_token",
  ...IMAP_COLUMNS,
  "time_zone",
  "send_hour",
  "enabled",
  "locale",
] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];

/** A record's values by column; absent (or an empty CSV field) when not given. */
export type ImportRecord = Partial<Record<ImportColumn, string | number | boolean | null>>;

export type LineRead =
  | { kind: "blank" }
  | { kind: "header"; columns: ImportColumn[] }
  | { kind: "record"; record: ImportRecord }
  | { kind: "malformed"; problem: string };

/** The format from the file's name, else from its first line. */
export function detectFormat(path: string, firstLine: string | undefined): FileFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (/\.(jsonl|ndjson|json)$/.test(lower)) return "jsonl";
  return firstLine?.trimStart().startsWith("{") ? "jsonl" : "csv";
}

/**
 * Reads one line. CSV needs its header first (`columns` undefined until then); fields are
 * separated by commas, and may be quoted ("" for a quote inside), but not span lines.
 */
export function readLine(format: FileFormat, text: string, columns: ImportColumn[] | undefined): LineRead {
  const line = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (line.trim() === "") return { kind: "blank" };
  return format === "jsonl" ? readJsonLine(line) : readCsvLine(line, columns);
}

function readJsonLine(line: string): LineRead {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: "malformed", problem: "not a JSON object (JSON Lines: one object per line)" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { kind: "malformed", problem: "not a JSON object (JSON Lines: one object per line)" };
  const record: ImportRecord = {};
  const unknown: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(key)) {
      unknown.push(key);
      continue;
    }
    if (v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
      return { kind: "malformed", problem: `"${short(key)}" must be a string, number or boolean` };
    record[key as ImportColumn] = v;
  }
  if (unknown.length > 0) return { kind: "malformed", problem: unknownColumns(unknown) };
  return { kind: "record", record };
}

function readCsvLine(line: string, columns: ImportColumn[] | undefined): LineRead {
  const fields = splitCsv(line);
  if (typeof fields === "string") return { kind: "malformed", problem: fields };
  if (columns === undefined) {
    const names = fields.map((f) => f.trim().toLowerCase());
    const unknown = names.filter((n) => !(IMPORT_COLUMNS as readonly string[]).includes(n));
    if (unknown.length > 0) return { kind: "malformed", problem: `header: ${unknownColumns(unknown)}` };
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) return { kind: "malformed", problem: `header: column "${twice}" appears twice` };
    for (const needed of ["provider", "email"])
      if (!names.includes(needed)) return { kind: "malformed", problem: `header: the column "${needed}" is missing` };
    return { kind: "header", columns: names as ImportColumn[] };
  }
  if (fields.length !== columns.length)
    return { kind: "malformed", problem: `${fields.length} fields where the header has ${columns.length}` };
  const record: ImportRecord = {};
  columns.forEach((c, i) => {
    const v = fields[i]!.trim();
    if (v !== "") record[c] = v;
  });
  return { kind: "record", record };
}

/** The fields of one CSV line, or why it cannot be split. */
export function splitCsv(line: string): string[] | string {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return "a quoted field is not closed (fields cannot span lines)";
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== ",") return "text after a quoted field's closing quote";
    } else {
      const c = line.indexOf(",", i);
      field = c < 0 ? line.slice(i) : line.slice(i, c);
      if (field.includes('"')) return 'a quote inside an unquoted field (quote the field, "" for a quote)';
      i = c < 0 ? line.length : c;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
    if (i === line.length) {
      out.push("");
      return out;
    }
  }
}

function unknownColumns(names: string[]): string {
  return `unknown column${names.length > 1 ? "s" : ""} ${names.map((n) => `"${short(n)}"`).join(", ")} (known: ${IMPORT_COLUMNS.join(", ")})`;
}

const short = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s);
