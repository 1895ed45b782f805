/**
 * One nightly batch under test: a seeded sandbox, a database of its own, real worker
 * processes (jobs/worker.ts) on a private Redis, and a scheduler loop in this process.
 * Scenarios do their damage while it runs; `check()` then judges the outcome with the same
 * invariants every time.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { loadConfig } from "../src/config.js";
import { createPrisma, type Db } from "../src/db/client.js";
import { syncGrants, type SyncResult } from "../src/grants/sync.js";
import { createLogger, type Logger } from "../src/log/logger.js";
import { NylasApi } from "../src/nylas/client.js";
import { queueCounts, pendingOf, type QueueCounts } from "../src/redis/idle.js";
import { createRunsQueue, type RunsQueue } from "../src/runs/queue.js";
import { createRedis } from "../src/redis/connection.js";
import { profileOf, startSandbox, type Sandbox } from "nylas-sandbox";
import { schedulerTick, type TickResult } from "../src/runs/scheduler.js";
import { compareDeliveries, observedMessage, type DeliveryReport } from "../harness/deliveries.js";
import { databaseUrl } from "../harness/database.js";
import { dropDatabase, ensureDatabase, migrate } from "../src/db/migrate.js";
import { WorkerFleet } from "../harness/fleet.js";
import { TcpProxy } from "../harness/tcp-proxy.js";

export interface ChaosSettings {
  grants: number;
  seed: number;
  /** Private Redis (never the shared one). */
  redisUrl: string;
  /** Postgres server for the batch databases (a private cluster: see harness/postgres-server.ts). */
  pgServerUrl: string;
  workers: number;
  concurrency: number;
  /** Scenario 1: kill -9 at least this many times. */
  kills: number;
  /** Scenario 6: kills on top of the dropped responses. */
  sendKills: number;
  /** Scenario 3: how long Postgres is unreachable. */
  outageMs: number;
  /** Scenario "api-key": how long Nylas refuses the workers' API key. */
  keyOutageMs: number;
  /** Longest wait for one batch to settle. */
  timeoutMs: number;
  logDir: string;
  /** Databases are `<dbPrefix>_<scenario>`. */
  dbPrefix: string;
  /** Called with short progress notes (stderr in the CLI). */
  note?: (line: string) => void;
}

export interface ScenarioResult {
  name: string;
  title: string;
  ok: boolean;
  ms: number;
  figures: Record<string, string | number>;
  problems: string[];
}

export interface BatchOptions {
  /** Workers reach Postgres through a proxy that the scenario can cut. */
  proxyDatabase?: boolean;
  /** Extra worker environment. */
  env?: Record<string, string>;
  /** Runs on the seeded sandbox before the grant sync (hostile data). */
  beforeSync?: (sandbox: Sandbox) => void | Promise<void>;
  /** Runs after the grant sync, before the first tick (edits to the grant table). */
  afterSync?: (batch: Batch) => Promise<void>;
}

export interface CheckOptions {
  /** Grants whose reminders may be missing (invalidated mid-run): at most once each. */
  mayMiss?: Set<string>;
  /** Grants that must receive nothing at all (not scheduled on purpose). */
  mustBeSilent?: Set<string>;
  /** Reminder keys (grant|event|start) that are expected to be refused, not sent. */
  refused?: Set<string>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const live = new Set<Batch>();

/** On Ctrl-C: SIGKILL every worker process of every open batch (they are ours alone). */
export function killAllWorkers(): void {
  for (const b of live) for (let i = 0; i < (b.fleet?.size ?? 0); i++) b.fleet.kill(i);
}

export class Batch {
  readonly prefix: string;
  readonly now = new Date();
  readonly started = Date.now();
  sandbox!: Sandbox;
  dbUrl!: string;
  /** Direct connection: setup and checks. */
  db!: Db;
  /** The scheduler's connection (through the proxy when there is one). */
  tickDb!: Db;
  proxy?: TcpProxy;
  redis!: Redis;
  queue!: RunsQueue;
  fleet!: WorkerFleet;
  log!: Logger;
  sync!: SyncResult;
  /** Grants valid at the sandbox when the batch started. */
  validAtStart = new Set<string>();
  expectedTotal = 0;
  ticks = 0;
  tickErrors = 0;
  tickEnqueued = 0;
  lastTick?: TickResult;
  private ticking = false;
  private tickTimer?: NodeJS.Timeout;
  private logStream?: WriteStream;

  constructor(
    readonly name: string,
    readonly settings: ChaosSettings,
    readonly options: BatchOptions = {},
  ) {
    this.prefix = `chaos_${name}_${randomBytes(3).toString("hex")}`;
  }

  get logDir(): string {
    return join(this.settings.logDir, this.name);
  }

  async open(): Promise<void> {
    const s = this.settings;
    this.logStream = createWriteStream(join(this.settings.logDir, `${this.name}-runner.log`));
    this.log = createLogger({ name: `chaos-${this.name}`, level: "warn" }, this.logStream as never);
    this.sandbox = await startSandbox({
      seed: { grants: s.grants, now: this.now, seed: s.seed },
      // Generous provider limits so the batch is bound by the machine, not by Gmail's 2/s;
      // the workers' own budgets stay below them (scenario 4 adds its own 429s).
      limits: { requestsPerSecond: 200, sendsPerSecond: { google: 30, microsoft: 30, imap: 30, default: 30 } },
    });
    await this.options.beforeSync?.(this.sandbox);
    for (const id of this.sandbox.grantIds())
      if (this.sandbox.grant(id).grant_status === "valid") this.validAtStart.add(id);

    this.dbUrl = databaseUrl(`${s.dbPrefix}_${this.name.replace(/-/g, "_")}`, s.pgServerUrl);
    await dropDatabase(this.dbUrl);
    await ensureDatabase(this.dbUrl);
    await migrate(this.dbUrl);
    this.db = await createPrisma(this.dbUrl, { max: 6 });
    let workerDbUrl = this.dbUrl;
    if (this.options.proxyDatabase) {
      const server = new URL(s.pgServerUrl);
      this.proxy = new TcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
      await this.proxy.start();
      const u = new URL(this.dbUrl);
      u.host = `127.0.0.1:${this.proxy.port}`;
      workerDbUrl = u.toString();
      this.tickDb = await createPrisma(workerDbUrl, { max: 3 });
    } else {
      this.tickDb = this.db;
    }

    const nylas = new NylasApi({ apiKey: this.sandbox.apiKey, apiUri: this.sandbox.url, timeout: 10 });
    this.sync = await syncGrants(this.db, nylas, this.log, { defaultTimeZone: "UTC", defaultSendHour: 18 });
    await this.options.afterSync?.(this);

    this.redis = createRedis(s.redisUrl, { connectionName: "chaos-runner" });
    this.redis.on("error", () => {}); // a restarted Redis is part of the plan; ioredis reconnects
    this.queue = createRunsQueue(this.redis, { prefix: this.prefix, attempts: 8 });
    this.queue.on("error", (err) => this.log.warn({ err }, "queue error"));

    const env: Record<string, string> = {
      DATABASE_URL: workerDbUrl,
      REDIS_URL: s.redisUrl,
      NYLAS_API_KEY: this.sandbox.apiKey,
      NYLAS_API_URI: this.sandbox.url,
      QUEUE_PREFIX: this.prefix,
      WORKER_CONCURRENCY: String(s.concurrency),
      // Short Nylas timeout = short ledger lease (2 x timeout + 30 s): a killed worker's
      // claims are taken over after ~40 s instead of ~90 s.
      NYLAS_TIMEOUT_S: "5",
      RATE_READS_PER_SEC: "50",
      RATE_SENDS_PER_SEC: "20",
      RATE_SENDS_PER_SEC_GOOGLE: "20",
      RATE_SENDS_PER_SEC_MICROSOFT: "20",
      LOG_LEVEL: "info",
      ...this.options.env,
    };
    // Fail here, in one line, if the scenario's environment is not one the worker accepts.
    loadConfig(env);
    this.fleet = new WorkerFleet({ count: s.workers, env, logDir: this.logDir });
    live.add(this);
  }

  /** Expected reminders: every grant valid at the start, computed by the sandbox's seed. */
  expected(exclude: Set<string> = new Set()) {
    return this.sandbox
      .expectedReminders({ now: this.now, includeInvalid: true })
      .filter((e) => this.validAtStart.has(e.grantId) && !exclude.has(e.grantId));
  }

  /** Starts the workers and the scheduler loop (a tick now, then every `everyMs`). */
  async start(everyMs = 2000): Promise<void> {
    this.expectedTotal = this.expected().length;
    this.fleet.startAll();
    await this.tick();
    this.tickTimer = setInterval(() => {
      if (!this.ticking) void this.tick();
    }, everyMs);
  }

  /** One scheduler tick for the batch's night (after any tick in progress); errors (Redis or Postgres down) are counted. */
  async tick(): Promise<void> {
    while (this.ticking) await sleep(20);
    this.ticking = true;
    try {
      const r = await schedulerTick(this.tickDb, this.queue, this.log, {
        now: this.now,
        pageSize: 500,
        ignoreSendHour: true,
      });
      this.ticks++;
      this.tickEnqueued += r.enqueued + r.revived;
      this.lastTick = r;
    } catch (err) {
      this.tickErrors++;
      this.log.warn({ err }, "scheduler tick failed");
    } finally {
      this.ticking = false;
    }
  }

  /** Share of the expected reminders the sandbox has accepted so far. */
  progress(): number {
    return this.expectedTotal === 0 ? 1 : this.sandbox.sentCount() / this.expectedTotal;
  }

  async waitProgress(share: number, timeoutMs = this.settings.timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.progress() < share) {
      if (Date.now() > deadline)
        throw new Error(`batch did not reach ${Math.round(share * 100)}% within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** What is still unsettled: jobs to run, runs not finished, claims not resolved. */
  async unsettled(): Promise<{ counts: QueueCounts; openRuns: number; claimed: number; parked: number }> {
    const counts = await queueCounts(this.queue);
    const openRuns = await this.db.run.count({ where: { status: { in: ["queued", "running"] } } });
    // A claim whose outcome is unknown stays claimed until someone can look in the grant's
    // Sent folder. For a grant in needs_reauth that is only possible once the user is back
    // (the revived run takes the claim over with the Sent check): parked, not stuck. Any
    // other claim left over is stuck.
    const claimed = await this.db.reminder.count({
      where: { status: "claimed", grant: { status: { not: "needs_reauth" } } },
    });
    const parked = await this.db.reminder.count({ where: { status: "claimed", grant: { status: "needs_reauth" } } });
    return { counts, openRuns, claimed, parked };
  }

  /**
   * Waits until the batch has settled (three quiet polls in a row) or the timeout; returns
   * false on timeout. The scheduler keeps ticking meanwhile.
   */
  async waitSettled(timeoutMs = this.settings.timeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    while (Date.now() < deadline) {
      try {
        const u = await this.unsettled();
        quiet = pendingOf(u.counts) === 0 && u.openRuns === 0 && u.claimed === 0 ? quiet + 1 : 0;
        if (quiet >= 3) return true;
      } catch {
        quiet = 0;
      }
      await sleep(500);
    }
    return false;
  }

  async stopScheduler(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    while (this.ticking) await sleep(50);
  }

  /** The invariants, after the batch settled (or timed out). */
  async check(
    settled: boolean,
    opts: CheckOptions = {},
  ): Promise<{ problems: string[]; figures: Record<string, string | number>; report: DeliveryReport }> {
    const problems: string[] = [];
    const mayMiss = opts.mayMiss ?? new Set<string>();
    const silent = opts.mustBeSilent ?? new Set<string>();
    const refused = opts.refused ?? new Set<string>();

    // 1. Every expected reminder exactly once, to exactly its recipients, and nothing else.
    const expected = this.expected(silent).filter((e) => !refused.has(`${e.grantId}|${e.eventId}|${e.start}`));
    // By the mailboxes' contents, not the ledger: a ledger bug must not hide in its own check.
    const sent = this.sandbox.sentMessages();
    const report = compareDeliveries(expected, sent.map(observedMessage));
    const missing = report.missing.filter((m) => !mayMiss.has(m.grantId));
    if (missing.length)
      problems.push(
        `${missing.length} expected reminder(s) never sent (e.g. ${fmtKeys(missing.map((m) => `${m.grantId}|${m.eventId}|${m.start}`))})`,
      );
    if (report.duplicates.length)
      problems.push(
        `${report.duplicates.length} reminder(s) sent more than once (e.g. ${fmtKeys(report.duplicates.map((d) => `${d.key} x${d.count}`))})`,
      );
    if (report.unexpected.length) {
      const some = fmtKeys(report.unexpected.map((u) => `${u.grantId} "${u.subject}"`));
      problems.push(`${report.unexpected.length} unexpected message(s) (e.g. ${some})`);
    }
    if (report.wrongRecipients.length)
      problems.push(
        `${report.wrongRecipients.length} reminder(s) with wrong recipients (e.g. ${fmtKeys(report.wrongRecipients.map((w) => w.key))})`,
      );
    // Across grants: colleagues in one meeting, one reminder per person.
    if (report.twicePerPerson.length)
      problems.push(
        `${report.twicePerPerson.length} person(s) reminded twice of one meeting (e.g. ${fmtKeys(report.twicePerPerson.map((t) => `${t.icalUid}|${t.start}|${t.grantIds.join("+")} x${t.count}`))})`,
      );
    const silentHits = sent.filter((m) => silent.has(m.grantId));
    if (silentHits.length) problems.push(`${silentHits.length} message(s) to grants that must not be scheduled`);

    // 2. No grant in needs_reauth received anything after it was marked.
    const reauth = await this.db.grant.findMany({
      where: { status: "needs_reauth" },
      select: { id: true, statusChangedAt: true },
    });
    const markedAt = new Map(reauth.map((g) => [g.id, g.statusChangedAt?.getTime() ?? 0]));
    const late = sent.filter((m) => markedAt.has(m.grantId) && m.at > markedAt.get(m.grantId)!);
    if (late.length) problems.push(`${late.length} message(s) sent for grants after they were marked needs_reauth`);
    // A grant that lost reminders must say why: it is marked needs_reauth.
    const missingBy = new Set(report.missing.filter((m) => mayMiss.has(m.grantId)).map((m) => m.grantId));
    const unexplained = [...missingBy].filter((id) => !markedAt.has(id));
    if (unexplained.length)
      problems.push(`${unexplained.length} invalidated grant(s) lost reminders without being marked needs_reauth`);

    // 3. Nothing stuck: queue idle, no run queued/running, no claim left, nothing failed.
    const u = await this.unsettled();
    if (!settled) problems.push(`batch did not settle within ${Math.round(this.settings.timeoutMs / 1000)} s`);
    if (pendingOf(u.counts) > 0) problems.push(`queue not idle: ${JSON.stringify(u.counts)}`);
    if (u.openRuns > 0) problems.push(`${u.openRuns} run(s) left queued/running`);
    if (u.claimed > 0) problems.push(`${u.claimed} ledger row(s) left claimed`);
    const failedRuns = await this.db.run.findMany({
      where: { status: "failed" },
      select: { grantId: true, lastError: true },
    });
    if (failedRuns.length)
      problems.push(
        `${failedRuns.length} run(s) failed (e.g. ${failedRuns[0]!.grantId}: ${failedRuns[0]!.lastError ?? "?"})`,
      );
    const failedJobs = (await this.queue.getFailed(0, 10_000)).filter(
      (j) => !/needs re-authentication/.test(j.failedReason ?? ""),
    );
    if (failedJobs.length)
      problems.push(
        `${failedJobs.length} job(s) failed for good (e.g. ${failedJobs[0]!.id}: ${failedJobs[0]!.failedReason})`,
      );
    // Every grant valid at the start and not silenced has a settled run for the night.
    const runs = await this.db.run.findMany({ select: { grantId: true, status: true, attempts: true } });
    const withRun = new Set(runs.map((r) => r.grantId));
    // The sandbox says which providers have calendars (Nylas: none for IMAP): only those run.
    const hasCalendar = (id: string) => profileOf(this.sandbox.grant(id).provider).calendars;
    const noRun = [...this.validAtStart].filter((id) => !silent.has(id) && hasCalendar(id) && !withRun.has(id));
    if (noRun.length) problems.push(`${noRun.length} valid grant(s) never got a run`);
    const calendarless = [...withRun].filter((id) => !hasCalendar(id));
    if (calendarless.length) problems.push(`${calendarless.length} grant(s) without calendars got a run`);

    const log = this.sandbox.requestLog();
    const figures: Record<string, string | number> = {
      expected: expected.length,
      sent: sent.length,
      runs: runs.length,
      retries: runs.reduce((a, r) => a + Math.max(0, r.attempts - 1), 0),
      "429s": log.filter((e) => e.status === 429).length,
      "5xx": log.filter((e) => e.status >= 500).length,
      drops: log.filter((e) => e.note === "dropped" || e.note === "dropped_after").length,
      reauth: reauth.length,
      "claims parked on needs_reauth grants": u.parked,
    };
    return { problems, figures, report };
  }

  /** Lines of the workers' logs that match `re` (JSON pino lines). */
  workerLogLines(re: RegExp): string[] {
    const out: string[] = [];
    for (const f of readdirSync(this.logDir)) {
      if (!f.endsWith(".log")) continue;
      for (const line of readFileSync(join(this.logDir, f), "utf8").split("\n")) if (re.test(line)) out.push(line);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.stopScheduler();
    await this.fleet?.stopAll(15_000).catch(() => {});
    live.delete(this);
    await this.proxy?.stop().catch(() => {});
    await this.queue?.obliterate({ force: true }).catch(() => {});
    await this.queue?.close().catch(() => {});
    this.redis?.disconnect();
    if (this.tickDb && this.tickDb !== this.db) await this.tickDb.$disconnect().catch(() => {});
    await this.db?.$disconnect().catch(() => {});
    await this.sandbox?.close().catch(() => {});
    this.logStream?.end();
  }
}

function fmtKeys(keys: string[]): string {
  return keys.slice(0, 2).join(", ") + (keys.length > 2 ? ", …" : "");
}
