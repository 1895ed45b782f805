import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { createQueue, createWorker } from "../../src/redis/queue-factory.js";
import { createRedis } from "../../src/redis/connection.js";
import { testDatabaseUrl } from "../support/db.js";
import { LogSink } from "../support/pipeline.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A port that was free a moment ago and where nothing listens now. */
function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Each distinct error is logged once, then at most once a minute while it lasts. */
function expectThrottled(lines: Record<string, unknown>[], elapsedMs: number): void {
  const perKind = new Map<string, number>();
  for (const l of lines)
    if (/ECONNREFUSED/.test(String(l.msg))) perKind.set(String(l.msg), (perKind.get(String(l.msg)) ?? 0) + 1);
  expect(perKind.size).toBeGreaterThan(0);
  for (const n of perKind.values()) expect(n).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / 60_000));
}

interface Proc {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function start(entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, entry)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      NYLAS_API_KEY: "nyk_redis_down_key",
      DATABASE_URL: testDatabaseUrl(),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += String(c)));
  child.stderr.on("data", (c) => (stderr += String(c)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return { stdout: () => stdout, stderr: () => stderr, exited, kill: (s) => child.kill(s) };
}

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("Redis down: errors go through pino, once per kind", () => {
  it.each([
    ["web", "jobs/web.ts", /web listening/],
    ["worker", "jobs/worker.ts", /ECONNREFUSED/],
  ])("the %s process writes only pino JSON lines and no raw stack", async (_name, entry, ready) => {
    const port = await deadPort();
    const webPort = await deadPort();
    const started = Date.now();
    const p = start(entry, {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      PORT: String(webPort),
      BULL_BOARD_USER: "operator",
      BULL_BOARD_PASSWORD: "correct horse battery",
    });
    try {
      await vi.waitFor(() => expect(p.stdout()).toMatch(ready), { timeout: 30_000, interval: 100 });
      await vi.waitFor(() => expect(p.stdout()).toMatch(/"source":"[^"]+".*ECONNREFUSED/), {
        timeout: 30_000,
        interval: 100,
      });
      if (entry === "jobs/web.ts") {
        // The web dyno keeps serving and says which dependency is down.
        const res = await fetch(`http://127.0.0.1:${webPort}/healthz`);
        expect(res.status).toBe(503);
        expect(await res.json()).toMatchObject({ postgres: "ok" });
      }
    } finally {
      p.kill("SIGTERM");
    }
    await p.exited;
    expect(p.stderr()).toBe("");
    const lines = jsonLines(p.stdout()); // throws on anything that is not JSON
    for (const l of lines) expect(l).toMatchObject({ level: expect.any(Number), msg: expect.any(String) });
    expectThrottled(lines, Date.now() - started);
  });

  it("one line for an outage seen by a connection, its queue and its worker, however often they retry", async () => {
    const sink = new LogSink();
    const log = createLogger({ level: "info" }, sink.stream);
    const url = `redis://127.0.0.1:${await deadPort()}`;
    const started = Date.now();
    const connection = createRedis(url, { connectionName: "down", retryStrategy: () => 20 }, log);
    let errors = 0;
    connection.on("error", () => errors++);
    const queue = createQueue("down", { connection, prefix: "nr-down" }, log);
    const worker = createWorker("down", async () => undefined, { connection, prefix: "nr-down" }, log);
    try {
      await vi.waitFor(() => expect(errors).toBeGreaterThanOrEqual(10), { timeout: 30_000, interval: 20 });
    } finally {
      connection.disconnect();
      await Promise.allSettled([worker.close(true), queue.close()]);
    }
    expectThrottled(sink.lines, Date.now() - started);
    expect(sink.lines.every((l) => l.level === 40)).toBe(true);
  });
});
