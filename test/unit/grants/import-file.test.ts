import { describe, expect, it } from "vitest";
import { detectFormat, readLine, splitCsv, type ImportColumn } from "../../../src/grants/import/file.js";
import { parseImportArgs } from "../../../src/grants/import/args.js";
import { progressText, createProgress } from "../../../src/grants/import/progress.js";
import { withoutSecrets } from "../../../src/grants/import/report.js";

describe("splitCsv", () => {
  it.each([
    ["a,b,c", ["a", "b", "c"]],
    ["a,,c,", ["a", "", "c", ""]],
    ['"a, b","say ""hi""",c', ["a, b", 'say "hi"', "c"]],
    ['""', [""]],
  ])("splits %j", (line, fields) => expect(splitCsv(line)).toEqual(fields));

  it.each([
    ['a,"open', /not closed/],
    ['a,"x"y', /after a quoted field/],
    ['a,b"c', /quote inside an unquoted field/],
  ])("refuses %j", (line, why) => expect(splitCsv(line)).toMatch(why));
});

describe("readLine", () => {
  const cols: ImportColumn[] = ["provider", "email", "refresh_token"];
  it("reads the header, then records by column (empty fields absent)", () => {
    expect(readLine("csv", "Provider, Email ,refresh_token\r", undefined)).toEqual({ kind: "header", columns: cols });
    expect(readLine("csv", "google,a@b.co,", cols)).toEqual({
      kind: "record",
      record: { provider: "google", email: "a@b.co" },
    });
    expect(readLine("csv", "  ", cols)).toEqual({ kind: "blank" });
  });

  it("calls a header without provider or email, an unknown or a repeated column malformed", () => {
    expect(readLine("csv", "email,refresh_token", undefined)).toMatchObject({ problem: /"provider" is missing/ });
    expect(readLine("csv", "provider,email,colour", undefined)).toMatchObject({ problem: /unknown column "colour"/ });
    expect(readLine("csv", "provider,email,email", undefined)).toMatchObject({ problem: /appears twice/ });
    expect(readLine("csv", "google,a@b.co", cols)).toMatchObject({ problem: "2 fields where the header has 3" });
  });

  it("reads JSON Lines objects, and calls anything else malformed", () => {
    expect(readLine("jsonl", '{"provider":"imap","email":"a@b.co","imap_port":993}', undefined)).toEqual({
      kind: "record",
      record: { provider: "imap", email: "a@b.co", imap_port: 993 },
    });
    expect(readLine("jsonl", "[1]", undefined)).toMatchObject({ kind: "malformed" });
    expect(readLine("jsonl", "{oops", undefined)).toMatchObject({ kind: "malformed" });
    expect(readLine("jsonl", '{"email":{"x":1}}', undefined)).toMatchObject({ problem: /"email" must be a string/ });
  });

  it("detects the format from the name, else the first line", () => {
    expect(detectFormat("u.CSV", "{")).toBe("csv");
    expect(detectFormat("u.ndjson", "provider")).toBe("jsonl");
    expect(detectFormat("input", '{"provider":"google"}')).toBe("jsonl");
    expect(detectFormat("input", "provider,email")).toBe("csv");
  });
});

describe("parseImportArgs", () => {
  it("defaults, and the flags", () => {
    expect(parseImportArgs(["u.csv"])).toEqual({ file: "u.csv", dryRun: false, rate: 40, concurrency: 8 });
    expect(parseImportArgs(["u.csv", "--dry-run", "--rate", "50", "--concurrency", "2"])).toEqual({
      file: "u.csv",
      dryRun: true,
      rate: 50,
      concurrency: 2,
    });
    expect(parseImportArgs(["-h"])).toBe("help");
  });
  it.each([
    [[]],
    [["a", "b"]],
    [["a", "--rate", "51"]],
    [["a", "--rate", "0"]],
    [["a", "--concurrency", "x"]],
    [["a", "--x"]],
  ])("refuses %j", (argv) => expect(() => parseImportArgs(argv)).toThrow());
});

describe("progress", () => {
  it("draws a bar", () => {
    expect(progressText(5, 10, 2.5, 10)).toBe("[#####.....]  5/10  50% 2.5/s");
  });
  it("writes plain lines, at most one per period, when not on a terminal", () => {
    const lines: string[] = [];
    let t = 0;
    const p = createProgress({ isTTY: false, write: (s) => lines.push(s) }, 100, { lineEveryMs: 1000, now: () => t });
    t = 1000;
    p.update(10);
    t = 1500;
    p.update(20);
    t = 2100;
    p.update(30);
    p.finish(100);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
  });
});

it("withoutSecrets removes every credential from a text", () => {
  expect(withoutSecrets("token tok-123 refused; tok-123 again", ["tok-123"])).toBe(
    "token [secret] refused; [secret] again",
  );
});
