import { redisTls, type Config } from "../src/config.js";
import { startWorkerApp } from "../src/worker.js";
import { createPrisma, type Db } from "../src/db/client.js";
import { ensureDatabase, migrate } from "../src/db/migrate.js";
import { syncGrants, type SyncResult } from "../src/grants/sync.js";
import type { Logger } from "../src/log/logger.js";
import { NylasApi } from "../src/nylas/client.js";
import { createRedis, pingRedis } from "../src/redis/connection.js";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { schedulerTick, type TickResult } from "../src/runs/scheduler.js";
import { compareDeliveries, observedMessage, type DeliveryReport } from "../harness/deliveries.js";
import { waitForIdle } from "../src/redis/idle.js";
import { whyGrantCannotRun } from "../src/grants/status.js";
import { startWebApp } from "../src/web/app.js";
import { nightExpectations, queueDelayed, setUpCases, type DemoCases } from "./cases.js";
import { changeAfterTheRun, type AfterTheRun } from "./after-the-run.js";
import { freePort } from "./free-port.js";
import { createWebhooksQueue } from "../src/webhooks/queue.js";

export interface DemoOptions {
  grants: number;
  /** Grants whose access is revoked after the sync, so their runs meet a 401. */
  expireDuringRun: number;
  now?: Date;
  timeoutMs: number;
}

export interface DemoSummary {
  database: "postgres" | "pglite";
  sync: SyncResult;
  tick: TickResult;
  runs: Record<string, number>;
  meetings: number;
  sent: number;
  failed: number;
  skipped: Record<string, number>;
  needsReauth: string[];
  /** The sandbox's grants: the demo's rows in the database (it leaves them for Bull Board). */
  grantIds: string[];
  report: DeliveryReport;
  /** The same night, one line per provider. */
  providers: ProviderLine[];
  /** Who chose which meetings, who opted out, which job was late (demo/cases.ts). */
  cases: DemoCases;
  /** A meeting moved and one cancelled after the night's run (demo/after-the-run.ts). */
  afterTheRun: AfterTheRun;
  ms: number;
}

export interface ProviderLine {
  provider: string;
  grants: number;
  /** Grants by where their zone came from (calendar, browser, events, default, override). */
  zoneSources: Record<string, number>;
  /** Whole hours (or h:mm) east of UTC at which this provider's local days began, sorted. */
  dayOffsets: string[];
  runs: number;
  sent: number;
  uncertain: number;
  /** Why its grants were not scheduled, when none could be. */
  notScheduled?: string;
  /** The seed's expectations against this provider's mailboxes. */
  report: DeliveryReport;
}

export class RedisUnavailable extends Error {}

/**
 * One complete nightly batch on one machine: the sandbox with seeded grants, a grant sync,
 * one scheduler tick that treats every grant as due, the real worker on real Redis until the
 * queue is idle, and a check of the sandbox's mailboxes against the seed's expectations.
 */
export async function runDemo(config: Config, log: Logger, options: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const redis = createRedis(
    config.REDIS_URL,
    {
      connectionName: "nr-demo",
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      lazyConnect: true,
      ...redisTls(config),
    },
    log,
  );
  try {
    await redis.connect();
    await pingRedis(redis, 2000);
  } catch {
    redis.disconnect();
    throw new RedisUnavailable(
      `Redis is not reachable at ${config.REDIS_URL.replace(/\/\/[^@/]*@/, "//")}: start it with "bash scripts/services.sh redis" (or "redis-server --daemonize yes"), or set REDIS_URL`,
    );
  }
  redis.disconnect();

  const now = options.now ?? new Date();
  const sandbox = await startSandbox({ seed: { grants: options.grants, now } });
  let db: Db | undefined;
  let app: Awaited<ReturnType<typeof startWorkerApp>> | undefined;
  let web: Awaited<ReturnType<typeof startWebApp>> | undefined;
  try {
    // The web dyno receives the sandbox's signed event.* notifications (meetings changed after
    // the run); a re-run waits a second for more changes of the same grant.
    const base: Config = {
      ...config,
      NYLAS_API_KEY: sandbox.apiKey,
      NYLAS_API_URI: sandbox.url,
      RERUN_DEBOUNCE_MS: 1000,
    };
    db = await openDatabase(config.DATABASE_URL, sandbox);
    // Nylas verifies a destination with a challenge before it gives out the signing secret:
    // the web dyno answers it, then starts again with the secret.
    const port = await freePort();
    // The demo uses the web dyno for webhooks only: its warnings about sign-in and Bull Board
    // credentials are not the demo's business.
    const webLog = log.child({ dyno: "web" }, { level: "error" });
    web = await startWebApp(base, webLog, { db, port, host: "127.0.0.1" });
    const webhookSecret = await registerWebhook(sandbox, `http://127.0.0.1:${port}/webhooks/nylas`);
    await web.close();
    const cfg: Config = { ...base, NYLAS_WEBHOOK_SECRET: webhookSecret };

    const nylas = new NylasApi({ apiKey: cfg.NYLAS_API_KEY, apiUri: cfg.NYLAS_API_URI, timeout: cfg.NYLAS_TIMEOUT_S });
    const sync = await syncGrants(db, nylas, log, {
      defaultTimeZone: cfg.DEFAULT_TIME_ZONE,
      defaultSendHour: cfg.DEFAULT_SEND_HOUR,
    });

    // A few users revoke access after the sync: their runs meet a 401 and must end in
    // needs_reauth with nothing sent.
    const valid = sandbox.grantIds().filter((id) => sandbox.grant(id).grant_status === "valid");
    const expired = new Set(valid.slice(0, options.expireDuringRun));
    for (const id of expired) sandbox.invalidateGrant(id);
    const cases = await setUpCases(db, sandbox, now, expired);

    web = await startWebApp(cfg, webLog, { db, port, host: "127.0.0.1" });
    app = await startWorkerApp(cfg, log, { db, scheduler: false });
    await app.runsQueue.obliterate({ force: true });
    const tick = await schedulerTick(db, app.runsQueue, log, {
      now,
      pageSize: cfg.SCHEDULER_PAGE_SIZE,
      ignoreSendHour: true,
    });
    await queueDelayed(app.runsQueue, cases);
    await waitForIdle(app.runsQueue, options.timeoutMs);
    const summary = await summarise(db, sandbox, now, cases);

    // The meetings changed below are a grant's of its own: not one of the cases above.
    const skip = new Set([...expired, ...Object.keys(cases.policy)]);
    if (cases.delayed) skip.add(cases.delayed.grantId);
    for (const s of cases.suppressed) for (const id of grantsOf(sandbox, s.sender)) skip.add(id);
    const queueRedis = createRedis(cfg.REDIS_URL, { connectionName: "nr-demo", ...redisTls(cfg) }, log);
    const webhooksQueue = createWebhooksQueue(queueRedis, cfg.QUEUE_PREFIX, log);
    let afterTheRun: AfterTheRun;
    try {
      afterTheRun = await changeAfterTheRun({
        sandbox,
        runsQueue: app.runsQueue,
        webhooksQueue,
        now,
        skip,
        timeoutMs: options.timeoutMs,
      });
    } finally {
      await webhooksQueue.close();
      queueRedis.disconnect();
    }
    return {
      database: config.DATABASE_URL ? "postgres" : "pglite",
      sync,
      tick,
      ...summary,
      cases,
      afterTheRun,
      ms: Date.now() - started,
    };
  } finally {
    await web?.close();
    await app?.close(5000);
    await db?.$disconnect();
    await sandbox.close();
  }
}

async function openDatabase(url: string | undefined, sandbox: Sandbox): Promise<Db> {
  if (!url) return createPrisma(undefined, { pgliteDataDir: "memory" });
  await ensureDatabase(url);
  await migrate(url);
  const db = await createPrisma(url);
  // The sandbox's grant ids are deterministic: forget what an earlier demo left for them.
  await db.grant.deleteMany({ where: { id: { in: sandbox.grantIds() } } });
  return db;
}

const grantsOf = (sandbox: Sandbox, email: string) =>
  sandbox.grantIds().filter((id) => sandbox.grant(id).email === email);

/** A webhook destination at the sandbox for the web dyno's URL: its signing secret. */
async function registerWebhook(sandbox: Sandbox, url: string): Promise<string> {
  const res = await fetch(`${sandbox.url}/v3/webhooks`, {
    method: "POST",
    headers: { authorization: `Bearer ${sandbox.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ webhook_url: url, trigger_types: ["event.created", "event.updated", "event.deleted"] }),
  });
  if (!res.ok) throw new Error(`the sandbox refused the webhook destination (${res.status})`);
  return ((await res.json()) as { data: { webhook_secret: string } }).data.webhook_secret;
}

/**
 * What the night should have sent: tomorrow for every grant, with the cases; and for the
 * delayed job, today as it stood when that run started (what had begun by then, or would
 * within the lead, is skipped).
 */
async function expectationsOf(db: Db, sandbox: Sandbox, now: Date, cases: DemoCases) {
  const night = sandbox.expectedReminders(nightExpectations(cases, now));
  if (!cases.delayed) return night;
  const { grantId, day } = cases.delayed;
  const run = await db.run.findUnique({ where: { grantId_day: { grantId, day } }, select: { startedAt: true } });
  const late = sandbox.expectedReminders({
    ...nightExpectations(cases, now),
    grantIds: [grantId],
    day: { [grantId]: day },
    now: run?.startedAt ?? now,
  });
  return [...night, ...late];
}

async function summarise(db: Db, sandbox: Sandbox, now: Date, cases: DemoCases) {
  // Only the sandbox's grants: a database named by DATABASE_URL may hold others.
  const grantIds = sandbox.grantIds();
  const runs = await db.run.findMany({
    where: { grantId: { in: grantIds } },
    select: {
      status: true,
      meetingsSeen: true,
      remindersSent: true,
      remindersFailed: true,
      skippedByReason: true,
      remindersSkipped: true,
    },
  });
  const byStatus: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  let meetings = 0;
  let sent = 0;
  let failed = 0;
  for (const r of runs) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    meetings += r.meetingsSeen;
    sent += r.remindersSent;
    failed += r.remindersFailed;
    for (const [reason, n] of Object.entries((r.skippedByReason ?? {}) as Record<string, number>))
      skipped[reason] = (skipped[reason] ?? 0) + n;
  }
  const needsReauth = (
    await db.grant.findMany({ where: { id: { in: grantIds }, status: "needs_reauth" }, select: { id: true } })
  ).map((g) => g.id);

  // Judged by the seed's expectations and the mailboxes' contents alone, not the worker's ledger.
  const expected = await expectationsOf(db, sandbox, now, cases);
  const observed = sandbox.sentMessages().map(observedMessage);
  const report = compareDeliveries(expected, observed);
  const providers = await byProvider(db, grantIds, expected, observed);
  return { runs: byStatus, meetings, sent, failed, skipped, needsReauth, grantIds, report, providers };
}

async function byProvider(
  db: Db,
  grantIds: string[],
  expected: ReturnType<Sandbox["expectedReminders"]>,
  observed: ReturnType<typeof observedMessage>[],
): Promise<ProviderLine[]> {
  const grants = await db.grant.findMany({
    where: { id: { in: grantIds } },
    select: { id: true, provider: true, timeZoneSource: true, status: true, enabled: true },
  });
  const runs = await db.run.findMany({
    where: { grantId: { in: grantIds } },
    select: { grantId: true, day: true, windowStart: true, remindersSent: true, remindersUncertain: true },
  });
  const lines = new Map<string, ProviderLine & { ids: Set<string>; offsets: Set<number> }>();
  for (const g of grants) {
    const line =
      lines.get(g.provider) ??
      lines
        .set(g.provider, {
          provider: g.provider,
          grants: 0,
          zoneSources: {},
          dayOffsets: [],
          runs: 0,
          sent: 0,
          uncertain: 0,
          report: compareDeliveries([], []),
          ids: new Set(),
          offsets: new Set(),
        })
        .get(g.provider)!;
    line.grants++;
    line.ids.add(g.id);
    line.zoneSources[g.timeZoneSource] = (line.zoneSources[g.timeZoneSource] ?? 0) + 1;
    const why = whyGrantCannotRun(g);
    if (why?.startsWith("has no calendar")) line.notScheduled = why;
  }
  const providerOf = new Map(grants.map((g) => [g.id, g.provider]));
  for (const r of runs) {
    const line = lines.get(providerOf.get(r.grantId)!)!;
    line.runs++;
    line.sent += r.remindersSent;
    line.uncertain += r.remindersUncertain;
    // The local day began at its local midnight: how far east of UTC that was.
    if (r.windowStart) line.offsets.add((Date.parse(`${r.day}T00:00:00Z`) - r.windowStart.getTime()) / 60_000);
  }
  return [...lines.values()]
    .sort((a, b) => b.grants - a.grants || a.provider.localeCompare(b.provider))
    .map(({ ids, offsets, ...line }) => ({
      ...line,
      dayOffsets: [...offsets].sort((a, b) => a - b).map(utcOffset),
      report: compareDeliveries(
        expected.filter((e) => ids.has(e.grantId)),
        observed.filter((m) => ids.has(m.grantId)),
      ),
    }));
}

/** Minutes east of UTC, as people write it: UTC, UTC+1, UTC-3:30. */
function utcOffset(minutes: number): string {
  if (minutes === 0) return "UTC";
  const abs = Math.abs(minutes);
  const hm = abs % 60 ? `${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}` : String(abs / 60);
  return `UTC${minutes < 0 ? "-" : "+"}${hm}`;
}
