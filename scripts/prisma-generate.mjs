#!/usr/bin/env node
// `npm run db:generate`: generates the Prisma client into src/db/generated.
//
// `prisma generate` itself runs offline (the client is compiled from WebAssembly), but the CLI
// first checks for its native schema-engine binary, which it would download at run time. It
// accepts any existing file named by PRISMA_SCHEMA_ENGINE_BINARY without running it, so when
// the caller has not set one we point it at this Node binary. Skips the work when the generated
// client is newer than the schema (pass --force to regenerate anyway). Prints one line.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const schema = join(root, "prisma", "schema.prisma");
const config = join(root, "prisma.config.ts");
const out = join(root, "src", "db", "generated");
const force = process.argv.includes("--force");

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function oldestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let oldest = Infinity;
  for (const entry of readdirSync(path)) oldest = Math.min(oldest, oldestMtime(join(path, entry)));
  return oldest;
}

const clientFile = join(out, "client.ts");
if (!force && existsSync(clientFile)) {
  const inputs = Math.max(newestMtime(schema), existsSync(config) ? newestMtime(config) : 0);
  if (oldestMtime(out) >= inputs) {
    console.log("prisma client is up to date (src/db/generated is newer than prisma/schema.prisma)");
    process.exit(0);
  }
}

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
env.PRISMA_HIDE_UPDATE_MESSAGE ??= "1";

const cli = join(root, "node_modules", "prisma", "build", "index.js");
const started = Date.now();
const res = spawnSync(process.execPath, [cli, "generate"], { cwd: root, env, encoding: "utf8" });
if (res.status !== 0) {
  process.stderr.write(res.stdout ?? "");
  process.stderr.write(res.stderr ?? "");
  console.error(`prisma generate failed (exit ${res.status ?? res.signal})`);
  process.exit(res.status ?? 1);
}
console.log(`prisma client generated into src/db/generated in ${Date.now() - started} ms`);
