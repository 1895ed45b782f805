import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Who may write what, read off the source: the `runs` table has one writer (src/runs/store.ts,
 * with its statements in src/runs/sql.ts), a grant's status has one (src/grants/status.ts),
 * its zone has one (src/grants/zone.ts), and raw SQL lives in named constants, never inline
 * where it is run.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "generated" ? [] : sources(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

const files = sources(SRC).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, "utf8") }));
const matching = (re: RegExp) =>
  files
    .filter((f) => re.test(f.text))
    .map((f) => f.path)
    .sort();

/** The arguments of each call of `callee` in `text` (up to the matching parenthesis). */
function callArguments(text: string, callee: RegExp): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(new RegExp(callee.source + "\\s*\\(", "g"))) {
    let depth = 1;
    let i = m.index + m[0].length;
    const from = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")") depth--;
    }
    out.push(text.slice(from, i - 1));
  }
  return out;
}

describe("ownership (read from src/)", () => {
  it("finds the source", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.path === "src/runs/store.ts")).toBe(true);
  });

  it("only src/runs/store.ts writes the runs table", () => {
    expect(matching(/\.run\.(create|createMany|update|updateMany|upsert|delete|deleteMany)\s*\(/)).toEqual([
      "src/runs/store.ts",
    ]);
    expect(matching(/\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+runs\b/i)).toEqual(["src/runs/sql.ts"]);
    // The statements' module is the store's alone.
    const importers = files.filter(
      (f) =>
        (f.path.startsWith("src/runs/") && /from "\.\/sql\.js"/.test(f.text)) ||
        /from "[./]*\/runs\/sql\.js"/.test(f.text),
    );
    expect(importers.map((f) => f.path)).toEqual(["src/runs/store.ts"]);
  });

  it("only src/grants/status.ts changes a grant's status", () => {
    const writers = files
      .filter((f) =>
        callArguments(f.text, /\.grant\.(create|createMany|update|updateMany|upsert)/).some((args) =>
          /\bstatus(Reason|ChangedAt)?\s*:/.test(args),
        ),
      )
      .map((f) => f.path);
    expect(writers).toEqual(["src/grants/status.ts"]);
    expect(matching(/\bUPDATE\s+grants\b/i)).toEqual([]);
  });

  it("only src/grants/zone.ts changes a grant's zone or its source", () => {
    const writers = files
      .filter((f) =>
        callArguments(f.text, /\.grant\.(create|createMany|update|updateMany|upsert)/).some((args) =>
          /\btimeZone(Source)?\s*:/.test(args),
        ),
      )
      .map((f) => f.path);
    expect(writers).toEqual(["src/grants/zone.ts"]);
    // A grant is created with the zone the writer hands out (`initialGrantZone`), as with its status.
    const creators = files.filter((f) => /\.grant\.create\s*\(/.test(f.text)).map((f) => f.path);
    for (const path of creators)
      expect(files.find((f) => f.path === path)!.text, path).toMatch(/\.\.\.initialGrantZone\(/);
    expect(matching(/\b(INSERT\s+INTO|UPDATE)\s+grants\b/i)).toEqual([]);
    expect(matching(/\btime_zone(_source)?\s*=(?!=)/).filter((p) => !p.startsWith("src/runs/"))).toEqual([]);
  });

  it("only src/optout/store.ts writes the suppressions table", () => {
    expect(matching(/\.suppression\.(create|createMany|update|updateMany|upsert|delete|deleteMany)\s*\(/)).toEqual([]);
    expect(matching(/\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+suppressions\b/i)).toEqual(["src/optout/sql.ts"]);
    const importers = files.filter(
      (f) =>
        (f.path.startsWith("src/optout/") && /from "\.\/sql\.js"/.test(f.text)) ||
        /from "[./]*\/optout\/sql\.js"/.test(f.text),
    );
    expect(importers.map((f) => f.path)).toEqual(["src/optout/store.ts"]);
  });

  it("runs raw SQL only from named constants", () => {
    const inline = matching(
      /\$(queryRaw|executeRaw)\s*(<[^>]*>)?\s*`|Prisma\.sql\s*`|\$(queryRaw|executeRaw)Unsafe\s*(<[^>]*>)?\s*\(\s*["'`]/,
    );
    expect(inline).toEqual([]);
  });
});
