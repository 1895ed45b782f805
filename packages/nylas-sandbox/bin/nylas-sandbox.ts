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
 * Webhooks: SANDBOX_WEBHOOK_URL registers a destination at start (the challenge must pass),
 * signed with SANDBOX_WEBHOOK_SECRET (generated and printed if unset), for the triggers in
 * SANDBOX_WEBHOOK_TRIGGERS (default: all the sandbox emits); SANDBOX_WEBHOOK_DUPLICATES and
 * SANDBOX_WEBHOOK_MAX_DELAY_MS set the delivery plan; SANDBOX_WEBHOOK_ALLOW_REMOTE=true allows
 * destinations off this machine.
 * Flags override env: --port N --grants N --seed N --api-key K --host H --webhook-url U
 * --webhook-secret S --webhook-triggers T,T --webhook-duplicates P --webhook-max-delay-ms N --grant-status-lag-ms N; --help.
 */
import {
  clockFrom,
  DEFAULT_API_KEY,
  DEFAULT_CLIENT_ID,
  parseInstant,
  startSandbox,
  TRIGGER_TYPES,
  type SandboxOptions,
} from "../src/index.js";

const USAGE = `Usage: nylas-sandbox [--port N] [--grants N] [--seed N] [--api-key KEY] [--host HOST]
                     [--webhook-url URL [--webhook-secret S] [--webhook-triggers T,T]]
                     [--webhook-duplicates P] [--webhook-max-delay-ms N]
                     [--grant-status-lag-ms N]

A local, in-memory fake of the Nylas v3 API (grants, calendars, events, messages and send,
hosted OAuth, webhooks) with a control API under /_sandbox/. Flags override the environment:

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
  --webhook-url U            SANDBOX_WEBHOOK_URL           register this webhook destination at
                                                           start (Nylas' challenge must pass)
  --webhook-secret S         SANDBOX_WEBHOOK_SECRET        its webhook_secret (default: generated, printed)
  --webhook-triggers T,T     SANDBOX_WEBHOOK_TRIGGERS      its trigger types (default: grant.*, event.*)
  --webhook-duplicates P     SANDBOX_WEBHOOK_DUPLICATES    chance 0-1 that a notification is delivered twice (0)
  --webhook-max-delay-ms N   SANDBOX_WEBHOOK_MAX_DELAY_MS  random delay 0-N ms before each delivery,
                                                           so later notifications can arrive first (0)
                             SANDBOX_WEBHOOK_ALLOW_REMOTE  true: destinations off this machine are allowed
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

const known = new Set([
  "port",
  "grants",
  "seed",
  "api-key",
  "host",
  "webhook-url",
  "webhook-secret",
  "webhook-triggers",
  "webhook-duplicates",
  "webhook-max-delay-ms",
  "grant-status-lag-ms",
]);
for (const a of process.argv.slice(2)) {
  if (a.startsWith("--") && !known.has(a.slice(2).split("=")[0]!))
    fail(`unknown flag ${a} (known: ${[...known].map((k) => `--${k}`).join(" ")} --help)`);
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

const webhookUrl = (flag("webhook-url") ?? process.env.SANDBOX_WEBHOOK_URL)?.trim() || undefined;
const webhookSecret = (flag("webhook-secret") ?? process.env.SANDBOX_WEBHOOK_SECRET)?.trim() || undefined;
const triggersRaw = (flag("webhook-triggers") ?? process.env.SANDBOX_WEBHOOK_TRIGGERS)?.trim() || undefined;
if (!webhookUrl && (webhookSecret || triggersRaw))
  fail("SANDBOX_WEBHOOK_SECRET and SANDBOX_WEBHOOK_TRIGGERS need SANDBOX_WEBHOOK_URL");
if (webhookSecret !== undefined && !/^[\x21-\x7e]{8,200}$/.test(webhookSecret))
  fail("SANDBOX_WEBHOOK_SECRET must be 8-200 printable characters without spaces");
const triggerTypes = triggersRaw?.split(",").map((t) => t.trim());
for (const t of triggerTypes ?? [])
  if (!(TRIGGER_TYPES as readonly string[]).includes(t))
    fail(`SANDBOX_WEBHOOK_TRIGGERS: unknown trigger "${t}" (known: ${TRIGGER_TYPES.join(", ")})`);
const dupRaw = (flag("webhook-duplicates") ?? process.env.SANDBOX_WEBHOOK_DUPLICATES)?.trim() || undefined;
const duplicateProbability = dupRaw === undefined ? 0 : Number(dupRaw);
if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(dupRaw ?? "0"))
  fail(`SANDBOX_WEBHOOK_DUPLICATES must be a probability between 0 and 1, got "${dupRaw}"`);
const maxDelayMs = intSetting(
  "SANDBOX_WEBHOOK_MAX_DELAY_MS",
  flag("webhook-max-delay-ms") ?? process.env.SANDBOX_WEBHOOK_MAX_DELAY_MS,
  0,
  0,
  600_000,
);
const allowRemote = process.env.SANDBOX_WEBHOOK_ALLOW_REMOTE?.trim() === "true";

const options: SandboxOptions = {
  port,
  host,
  apiKey,
  clientId,
  now,
  grantStatusLagMs,
  seed: { grants, seed: seedNo },
  webhooks: { allowRemote, delivery: { duplicateProbability, maxDelayMs } },
};
if (webhookUrl) {
  options.webhook = { url: webhookUrl, description: "registered by the sandbox CLI" };
  if (webhookSecret) options.webhook.secret = webhookSecret;
  if (triggerTypes) options.webhook.triggerTypes = triggerTypes;
}

let sandbox: Awaited<ReturnType<typeof startSandbox>>;
try {
  sandbox = await startSandbox(options);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  fail(
    e.code === "EADDRINUSE"
      ? `port ${port} is already in use (set SANDBOX_PORT)`
      : webhookUrl
        ? `could not start: ${e.message} (SANDBOX_WEBHOOK_URL ${webhookUrl})`
        : `could not start: ${e.message}`,
  );
}
const destination = sandbox.webhooks.overview().destinations as { id: string; webhook_secret: string }[];

const first = sandbox.grantIds().find((id) => sandbox.grant(id).grant_status === "valid");
const nowSec = Math.floor(now() / 1000);
const sample = first
  ? `curl -s -H 'Authorization: Bearer ${apiKey}' '${sandbox.url}/v3/grants/${first}/events?calendar_id=primary&start=${nowSec}&end=${nowSec + 2 * 86_400}&limit=5'`
  : `curl -s -H 'Authorization: Bearer ${apiKey}' '${sandbox.url}/v3/grants'`;
// The sandbox key is a local, fake credential: printing it is the point.
process.stdout.write(
  `Nylas sandbox at ${sandbox.url} — ${grants} grants (seed ${seedNo})${startAt ? `; clock from ${startAt.toISOString()}` : ""}; API key: ${apiKey}; client id: ${clientId}; control: ${sandbox.url}/_sandbox/health; try: ${sample}\n`,
);
// Like the API key, the sandbox's webhook secret is a local, fake credential.
if (destination[0])
  process.stdout.write(
    `sandbox: webhook destination ${destination[0].id} -> ${webhookUrl} (challenge passed); webhook secret: ${destination[0].webhook_secret}\n`,
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
