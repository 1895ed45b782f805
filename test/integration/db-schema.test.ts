import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { testDatabaseUrl } from "../support/db.js";

// Drift guard: the hand-written migration SQL must describe exactly what schema.prisma says.
// The schema is parsed here (a small parser for the subset this project uses) and every model,
// field, enum, index and relation is looked up in the migrated database's catalog.

/** Indexes the migrations create on expressions: Prisma's schema cannot say them. */
const EXPRESSION_INDEXES = [{ table: "grants", name: "grants_email_lower_idx", expression: "(lower(email))" }];

const SCHEMA_PATH = join(import.meta.dirname, "..", "..", "prisma", "schema.prisma");

interface Field {
  name: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  attrs: string;
}
interface Model {
  name: string;
  table: string;
  fields: Field[];
  block: string;
}

function blocks(src: string, keyword: "model" | "enum"): { name: string; body: string }[] {
  const re = new RegExp(`^${keyword}\\s+(\\w+)\\s*\\{([\\s\\S]*?)^\\}`, "gm");
  return [...src.matchAll(re)].map((m) => ({ name: m[1]!, body: m[2]! }));
}

function stripComments(line: string): string {
  return line.replace(/\/\/.*$/, "").trim();
}

function parseSchema(src: string) {
  const enums = new Map<string, string[]>();
  for (const { name, body } of blocks(src, "enum")) {
    enums.set(
      name,
      body
        .split("\n")
        .map(stripComments)
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]!),
    );
  }
  const models: Model[] = [];
  const modelNames = new Set(blocks(src, "model").map((b) => b.name));
  for (const { name, body } of blocks(src, "model")) {
    const fields: Field[] = [];
    let table = name;
    for (const raw of body.split("\n")) {
      const line = stripComments(raw);
      if (!line) continue;
      if (line.startsWith("@@")) {
        const map = /^@@map\("([^"]+)"\)/.exec(line);
        if (map) table = map[1]!;
        continue;
      }
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!m) throw new Error(`cannot parse field line in model ${name}: ${line}`);
      const [, fname, type, list, optional, attrs] = m;
      if (modelNames.has(type!)) continue; // relation field, no column
      const column = /@map\("([^"]+)"\)/.exec(attrs!)?.[1] ?? fname!;
      fields.push({ name: fname!, column, type: type!, optional: !!optional, list: !!list, attrs: attrs! });
    }
    models.push({ name, table, fields, block: body });
  }
  return { enums, models };
}

const schema = parseSchema(readFileSync(SCHEMA_PATH, "utf8"));

function expectedColumnType(
  f: Field,
  enums: Map<string, string[]>,
): { data_type: string; udt_name: string; precision?: number } {
  if (enums.has(f.type)) return { data_type: "USER-DEFINED", udt_name: f.type };
  const native = /@db\.(\w+)(?:\((\d+)\))?/.exec(f.attrs);
  switch (f.type) {
    case "String":
      return native?.[1] === "VarChar"
        ? { data_type: "character varying", udt_name: "varchar" }
        : { data_type: "text", udt_name: "text" };
    case "Int":
      return { data_type: "integer", udt_name: "int4" };
    case "BigInt":
      return { data_type: "bigint", udt_name: "int8" };
    case "Boolean":
      return { data_type: "boolean", udt_name: "bool" };
    case "Json":
      return { data_type: "jsonb", udt_name: "jsonb" };
    case "Float":
      return { data_type: "double precision", udt_name: "float8" };
    case "DateTime": {
      const precision = native?.[2] ? Number(native[2]) : 3;
      return native?.[1] === "Timestamptz"
        ? { data_type: "timestamp with time zone", udt_name: "timestamptz", precision }
        : { data_type: "timestamp without time zone", udt_name: "timestamp", precision };
    }
    default:
      throw new Error(`type ${f.type} not handled by this test; extend expectedColumnType`);
  }
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: "YES" | "NO";
  column_default: string | null;
  datetime_precision: number | null;
}

let client: pg.Client;
let columns: ColumnRow[];

beforeAll(async () => {
  client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  columns = (
    await client.query<ColumnRow>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, datetime_precision
         FROM information_schema.columns WHERE table_schema = 'public'`,
    )
  ).rows;
});

afterAll(async () => {
  await client?.end();
});

describe("schema.prisma vs the migrated database", () => {
  it("reaches test workers through inject() and the environment: the worker's clone of the template", () => {
    expect(inject("databaseUrl")).toBeTruthy();
    expect(testDatabaseUrl()).toBe(`${inject("databaseUrl")}_w${process.env.VITEST_POOL_ID}`);
    expect(process.env.DATABASE_URL).toBe(testDatabaseUrl());
    expect(process.env.TEST_DATABASE_URL).toBe(testDatabaseUrl());
  });

  it("parses the schema it guards", () => {
    expect(schema.models.map((m) => m.name).sort()).toEqual([
      "Grant",
      "Reminder",
      "Run",
      "Suppression",
      "WebhookDelivery",
    ]);
    expect(schema.models.find((m) => m.name === "Run")?.fields.length).toBe(22);
  });

  it("has exactly the tables of the models (plus _prisma_migrations)", async () => {
    const tables = (
      await client.query<{ relname: string }>(
        `SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
      )
    ).rows.map((r) => r.relname);
    expect(tables.sort()).toEqual([...schema.models.map((m) => m.table), "_prisma_migrations"].sort());
  });

  for (const model of schema.models) {
    describe(`${model.name} (${model.table})`, () => {
      it("has one column per scalar field and no other", () => {
        const actual = columns
          .filter((c) => c.table_name === model.table)
          .map((c) => c.column_name)
          .sort();
        expect(actual).toEqual(model.fields.map((f) => f.column).sort());
      });

      for (const f of model.fields) {
        it(`${f.name} → ${f.column}: type, nullability and default`, () => {
          const col = columns.find((c) => c.table_name === model.table && c.column_name === f.column);
          expect(col, `column ${model.table}.${f.column} is missing`).toBeDefined();
          const want = expectedColumnType(f, schema.enums);
          expect(col!.data_type).toBe(want.data_type);
          expect(col!.udt_name).toBe(want.udt_name);
          if (want.precision !== undefined) expect(col!.datetime_precision).toBe(want.precision);
          expect(col!.is_nullable).toBe(f.optional ? "YES" : "NO");

          const def = /@default\(((?:[^()]|\([^()]*\))*)\)/.exec(f.attrs)?.[1];
          if (def === undefined) {
            expect(col!.column_default).toBeNull();
          } else if (def === "autoincrement()") {
            expect(col!.column_default).toMatch(/^nextval\('.*_seq'::regclass\)$/);
          } else if (def === "now()") {
            expect(col!.column_default).toBe("CURRENT_TIMESTAMP");
          } else if (schema.enums.has(f.type)) {
            expect(col!.column_default).toBe(`'${def}'::"${f.type}"`);
          } else if (f.type === "String") {
            expect(col!.column_default).toBe(`${JSON.stringify(JSON.parse(def)).replace(/^"|"$/g, "'")}::text`);
          } else if (f.type === "Json") {
            expect(col!.column_default).toBe(`'${JSON.parse(def)}'::jsonb`);
          } else {
            expect(col!.column_default).toBe(def);
          }
        });
      }

      it("has its primary key, unique constraints and indexes under Prisma's names", async () => {
        const idx = (
          await client.query<{ indexname: string; indexdef: string }>(
            `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`,
            [model.table],
          )
        ).rows;
        const col = (name: string) => model.fields.find((f) => f.name === name)!.column;
        const expected: { name: string; unique: boolean; cols: string[] }[] = [];
        const id = model.fields.find((f) => /@id\b/.test(f.attrs))!;
        expected.push({ name: `${model.table}_pkey`, unique: true, cols: [id.column] });
        for (const f of model.fields.filter((f) => /@unique\b/.test(f.attrs)))
          expected.push({ name: `${model.table}_${f.column}_key`, unique: true, cols: [f.column] });
        for (const m of model.block.matchAll(/@@(unique|index)\(\[([^\]]+)\]\)/g)) {
          const cols = m[2]!.split(",").map((s) => col(s.trim()));
          expected.push({
            name: `${model.table}_${cols.join("_")}_${m[1] === "unique" ? "key" : "idx"}`,
            unique: m[1] === "unique",
            cols,
          });
        }
        // Indexes on expressions, which Prisma's schema cannot express: named in its comments.
        const onExpressions = EXPRESSION_INDEXES.filter((e) => e.table === model.table);
        for (const e of onExpressions) {
          expect(model.block).toContain(`"${e.name}"`);
          expect(idx.find((i) => i.indexname === e.name)?.indexdef).toContain(e.expression);
        }
        expect(idx.map((i) => i.indexname).sort()).toEqual(
          [...expected.map((e) => e.name), ...onExpressions.map((e) => e.name)].sort(),
        );
        for (const e of expected) {
          const def = idx.find((i) => i.indexname === e.name)!.indexdef;
          expect(def.startsWith(e.unique ? "CREATE UNIQUE INDEX" : "CREATE INDEX")).toBe(true);
          expect(def).toContain(`(${e.cols.join(", ")})`);
        }
      });
    });
  }

  it("has every enum with its values in order", async () => {
    const rows = (
      await client.query<{ typname: string; labels: string[] }>(
        `SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname`,
      )
    ).rows;
    expect(Object.fromEntries(rows.map((r) => [r.typname, r.labels]))).toEqual(Object.fromEntries(schema.enums));
  });

  it("has each relation as a foreign key with Prisma's name and ON DELETE CASCADE ON UPDATE CASCADE", async () => {
    const fks = (
      await client.query<{ conname: string; table: string; def: string }>(
        `SELECT conname, conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
      )
    ).rows;
    const expected: string[] = [];
    for (const model of schema.models) {
      for (const m of model.block.matchAll(
        /^\s*\w+\s+(\w+)\??\s+@relation\(fields:\s*\[(\w+)\],\s*references:\s*\[(\w+)\](.*)\)/gm,
      )) {
        const target = schema.models.find((x) => x.name === m[1])!;
        const column = model.fields.find((f) => f.name === m[2])!.column;
        const refColumn = target.fields.find((f) => f.name === m[3])!.column;
        const name = `${model.table}_${column}_fkey`;
        expected.push(name);
        const fk = fks.find((f) => f.conname === name);
        expect(fk, `foreign key ${name}`).toBeDefined();
        expect(fk!.def).toBe(
          `FOREIGN KEY (${column}) REFERENCES ${target.table}(${refColumn}) ON UPDATE CASCADE ON DELETE CASCADE`,
        );
        expect(m[4]).toContain("onDelete: Cascade");
      }
    }
    expect(fks.map((f) => f.conname).sort()).toEqual(expected.sort());
  });
});
