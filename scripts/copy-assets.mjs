#!/usr/bin/env node
// Part of `npm run build`: tsc emits only JavaScript, so the files the product reads at run
// time beside its modules (Redis scripts, SQL statements) are copied from src/ to dist/src/
// at the same relative paths. Prints one line.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const from = join(root, "src");
const to = join(root, "dist", "src");
const ASSET = /\.(lua|sql)$/;

let copied = 0;
for (const entry of readdirSync(from, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !ASSET.test(entry.name)) continue;
  const source = join(entry.parentPath, entry.name);
  const target = join(to, relative(from, source));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  copied++;
}
process.stdout.write(`copy-assets: ${copied} file(s) from src/ to dist/src/\n`);
