import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { chromium, type BrowserContext } from "playwright-core";
import { loadConfig, type Config } from "../../src/config.js";
import type { Db } from "../../src/db/client.js";
import { createLogger, type Logger } from "../../src/log/logger.js";
import { NylasApi } from "../../src/nylas/client.js";
import { createRunsQueue, createTickQueue, type RunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
import { DEFAULT_CLIENT_ID, startSandbox, type Sandbox, type SandboxOptions } from "nylas-sandbox";
import { buildWebServer, type WebDeps } from "../../src/web/server.js";
import { createWebhooksQueue, type WebhooksQueue } from "../../src/webhooks/queue.js";
import { testPrisma, uniqueId } from "../support/db.js";
import { LogSink } from "../support/pipeline.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const BOARD_USER = "operator";
export const BOARD_PASSWORD = "correct horse battery";
export const WEBHOOK_SECRET = "whsec_test_0123456789abcdef";
export const SESSION_SECRET = "session-secret-for-tests-0123456789";

/** A queue prefix nobody else uses (BullMQ keys of one test file). */
export function uniquePrefix(tag: string): string {
  return uniqueId(tag)
    .replace(/[^A-Za-z0-9_-]/g, "")
    .slice(0, 40);
}

/** Config of a test: the sandbox as Nylas, the test database, a queue prefix of its own. */
export function testConfig(sandbox: Sandbox, prefix: string, env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    NYLAS_API_KEY: sandbox.apiKey,
    NYLAS_API_URI: sandbox.url,
    NYLAS_CLIENT_ID: DEFAULT_CLIENT_ID,
    NYLAS_WEBHOOK_SECRET: WEBHOOK_SECRET,
    NYLAS_TIMEOUT_S: "5",
    BULL_BOARD_USER: BOARD_USER,
    BULL_BOARD_PASSWORD: BOARD_PASSWORD,
    SESSION_SECRET,
    ...env,
  });
}

export interface WebHarness {
  sandbox: Sandbox;
  db: Db;
  redis: Redis;
  healthRedis: Redis;
  runsQueue: RunsQueue;
  tickQueue: Queue;
  webhooksQueue: WebhooksQueue;
  config: Config;
  log: Logger;
  sink: LogSink;
  /** Builds a server (not listening; use inject) over the harness, with overrides. */
  server(overrides?: Partial<WebDeps>): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export async function startWebHarness(
  opts: { sandbox?: SandboxOptions; redirectUri?: string; now?: () => Date } = {},
): Promise<WebHarness> {
  const sandbox = await startSandbox(opts.sandbox ?? {});
  const db = await testPrisma();
  const prefix = uniquePrefix("w");
  const config = testConfig(sandbox, prefix);
  const sink = new LogSink();
  const log = createLogger({ level: "info" }, sink.stream);
  const redis = createRedis(REDIS_URL);
  const healthRedis = createRedis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const runsQueue = createRunsQueue(redis, { prefix, attempts: 3 });
  const tickQueue = createTickQueue(redis, prefix);
  const webhooksQueue = createWebhooksQueue(redis, prefix);
  const nylas = new NylasApi({ apiKey: sandbox.apiKey, apiUri: sandbox.url, timeout: 5 });
  const servers: FastifyInstance[] = [];
  return {
    sandbox,
    db,
    redis,
    healthRedis,
    runsQueue,
    tickQueue,
    webhooksQueue,
    config,
    log,
    sink,
    async server(overrides = {}) {
      const app = await buildWebServer({
        db,
        healthRedis,
        nylas,
        log,
        runsQueue,
        tickQueue,
        webhooksQueue,
        board: { user: BOARD_USER, password: BOARD_PASSWORD },
        webhooks: { secret: WEBHOOK_SECRET },
        connect: {
          clientId: DEFAULT_CLIENT_ID,
          apiKey: sandbox.apiKey,
          apiUri: sandbox.url,
          sessionSecret: SESSION_SECRET,
          redirectUri: opts.redirectUri ?? "http://localhost:3000/connect/callback",
          defaultTimeZone: "UTC",
          defaultSendHour: 18,
        },
        now: opts.now,
        ...overrides,
      });
      await app.ready();
      servers.push(app);
      return app;
    },
    async close() {
      for (const s of servers) await s.close();
      for (const q of [runsQueue, tickQueue, webhooksQueue]) {
        await q.obliterate({ force: true }).catch(() => {});
        await q.close();
      }
      await redis.quit();
      await healthRedis.quit();
      await sandbox.close();
    },
  };
}

/**
 * Plays the user on the sandbox's consent page without a browser: opens the auth URL, reads
 * the form's hidden id, submits it. Returns where the sandbox sends the browser back.
 */
export async function consentWithoutBrowser(
  authUrl: string,
  email: string,
  decision: "allow" | "deny" = "allow",
): Promise<URL> {
  const page = await fetch(authUrl);
  if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${await page.text()}`);
  const html = await page.text();
  const authId = /name="auth_id" value="([^"]+)"/.exec(html)?.[1];
  if (!authId) throw new Error("no auth_id on the consent page");
  const res = await fetch(new URL("/v3/connect/auth/consent", authUrl), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ auth_id: authId, email, provider: "google", decision }).toString(),
    redirect: "manual",
  });
  const location = res.headers.get("location");
  if (res.status !== 302 || !location) throw new Error(`consent answered ${res.status}`);
  return new URL(location);
}

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, with a fresh profile. Never downloads a browser: when the
 * package is missing the test fails (scripts/test.sh installs it; tests never skip).
 */
export async function launchChromium(
  options: {
    httpCredentials?: { username: string; password: string };
    args?: string[];
    /** The browser's own time zone (IANA), as its user's machine has it. */
    timezoneId?: string;
    javaScriptEnabled?: boolean;
  } = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { args = [], ...contextOptions } = options;
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (bash scripts/services.sh chromium)`);
  }
  // A fresh profile per launch (Playwright takes the user-data-dir as this argument).
  const profile = mkdtempSync(join(tmpdir(), "nr-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...contextOptions,
    args: [
      ...["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
      ...["--disable-background-networking", "--disable-component-update", "--disable-sync"],
      ...args,
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Version line of the browser, for a clear failure message in CI. */
export function chromiumVersion(): string {
  const r = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" });
  return (r.stdout || r.stderr || "").trim();
}
