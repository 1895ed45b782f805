#!/usr/bin/env tsx
/**
 * Runs the local Nylas v3 sandbox standalone (`npx nylas-sandbox`, or `npm run sandbox` in
 * the reminders repo). TypeScript source: it runs under tsx (hence the shebang), which maps
 * the `.js` specifiers below to their `.ts` files.
 * Env: SANDBOX_PORT (4010), SANDBOX_HOST (127.0.0.1), SANDBOX_API_KEY (nyk_sandbox_key),
 * SANDBOX_CLIENT_ID (sandbox-client-id), SANDBOX_GRANTS (25), SANDBOX_SEED (1),
 * SANDBOX_GRANT_STATUS_LAG_MS (0: how long GET /v3/grants still reports an invalidated grant valid),
 * CLOCK_START (test-only: the sandbox's clock, hence its seed's "today" and its message
 * dates, starts at that ISO 8601 instant and runs on at real speed).
 * Flags override env: --port N --grants N --seed N --api-key K --host H --grant-status-lag-ms N; --help.
 */
import { clockFrom, DEFAULT_API_KEY, DEFAULT_CLIENT_ID, parseInstant, startSandbox } from "../src/index.js";

const USAGE = `Usage: nylas-sandbox [--port N] [--grants N] [--seed N] [--api-key KEY] [--host HOST]
                     [--grant-status-lag-ms N]

A local, in-memory fake of the Nylas v3 API (grants, calendars, events, messages and send,
hosted OAuth) with a control API under /_sandbox/. Flags override the environment:

  --port N        SANDBOX_PORT       port to listen on, 0 = any free port (4010)
  --host H        SANDBOX_HOST       address to bind (127.0.0.1)
  --grants N      SANDBOX_GRANTS     grants to seed, 0-100000 (25)
  --seed N        SANDBOX_SEED       seed of the generated data (1)
  --api-key K     SANDBOX_API_KEY    the API key clients must send as Bearer (nyk_sandbox_key)
  --grant-status-lag-ms N
                  SANDBOX_GRANT_STATUS_LAG_MS
                                     after a grant is invalidated, GET /v3/grants keeps reporting
                                     it valid for N ms (its data routes answer 401 at once) (0)
                  SANDBOX_CLIENT_ID  the application's client id for hosted OAuth (sandbox-client-id)
                  CLOCK_START        test-only: start the sandbox's clock at this ISO 8601
                                     instant (Z or an offset); refused with NODE_ENV=production
`;

function fail(message: string): never {
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(2);
}

function flag(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = args[i]!;
  if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) fail(`--${name} needs a value`);
  return v;
}

function intSetting(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) fail(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) fail(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const known = new Set(["port", "grants", "seed", "api-key", "host", "grant-status-lag-ms"]);
for (const a of process.argv.slice(2)) {
  if (a.startsWith("--") && !known.has(a.slice(2).split("=")[0]!))
    fail(`unknown flag ${a} (known: --port --grants --seed --api-key --host --grant-status-lag-ms --help)`);
}

const port = intSetting("SANDBOX_PORT", flag("port") ?? process.env.SANDBOX_PORT, 4010, 0, 65535);
const grants = intSetting("SANDBOX_GRANTS", flag("grants") ?? process.env.SANDBOX_GRANTS, 25, 0, 100_000);
const seedNo = intSetting("SANDBOX_SEED", flag("seed") ?? process.env.SANDBOX_SEED, 1, 0, 2 ** 31 - 1);
const grantStatusLagMs = intSetting(
  "SANDBOX_GRANT_STATUS_LAG_MS",
  flag("grant-status-lag-ms") ?? process.env.SANDBOX_GRANT_STATUS_LAG_MS,
  0,
  0,
  86_400_000,
);
const apiKey = flag("api-key") ?? process.env.SANDBOX_API_KEY ?? DEFAULT_API_KEY;
if (!/^[\x21-\x7e]{8,200}$/.test(apiKey)) fail("SANDBOX_API_KEY must be 8-200 printable characters without spaces");
const host = flag("host") ?? process.env.SANDBOX_HOST ?? "127.0.0.1";
const clientId = process.env.SANDBOX_CLIENT_ID ?? DEFAULT_CLIENT_ID;
const clockStart = process.env.CLOCK_START?.trim() || undefined;
if (clockStart !== undefined && process.env.NODE_ENV?.trim() === "production")
  fail("CLOCK_START is test-only and must be unset when NODE_ENV=production");
const startAt = clockStart === undefined ? undefined : parseInstant(clockStart);
if (clockStart !== undefined && !startAt)
  fail("CLOCK_START must be an ISO 8601 instant with Z or an offset, e.g. 2026-03-07T20:00:00Z");
const now = startAt ? clockFrom(startAt.getTime()) : Date.now;

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
try {
  sandbox = await startSandbox({ port, host, apiKey, clientId, now, grantStatusLagMs, seed: { grants, seed: seedNo } });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  fail(e.code === "EADDRINUSE" ? `port ${port} is already in use (set SANDBOX_PORT)` : `could not start: ${e.message}`);
}

const first = sandbox.grantIds().find((id) => sandbox.grant(id).grant_status === "valid");
const nowSec = Math.floor(now() / 1000);
const sample = first
  ? `curl -s -H 'Authorization: Bearer ${apiKey}' '${sandbox.url}/v3/grants/${first}/events?calendar_id=primary&start=${nowSec}&end=${nowSec + 2 * 86_400}&limit=5'`
  : `curl -s -H 'Authorization: Bearer ${apiKey}' '${sandbox.url}/v3/grants'`;
// The sandbox key is a local, fake credential: printing it is the point.
process.stdout.write(
  `Nylas sandbox at ${sandbox.url} — ${grants} grants (seed ${seedNo})${startAt ? `; clock from ${startAt.toISOString()}` : ""}; API key: ${apiKey}; client id: ${clientId}; control: ${sandbox.url}/_sandbox/health; try: ${sample}\n`,
);

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  process.stdout.write(`sandbox: ${signal}, closing\n`);
  const timer = setTimeout(() => process.exit(1), 5000);
  await sandbox.close();
  clearTimeout(timer);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
