import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { testDatabaseUrl } from "../support/db.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";
import { WorkerFleet } from "../../harness/fleet.js";
import { GRANT_CAN_RUN_WHERE } from "../../src/grants/status.js";
import { PrivateRedis } from "../../harness/redis-server.js";
import { messagesOf } from "../support/messages.js";

type LogLine = Record<string, unknown> & { msg: string; time: number };

function readLogs(dir: string): LogLine[] {
  return readdirSync(dir)
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n"))
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// README: "If Redis loses its data mid-evening, the next scheduler tick puts back what
// Postgres says is undone", with the worker's own job scheduler ("every worker dyno registers
// it idempotently, and again whenever Redis comes back"). Real worker processes on a Redis
// of the test's own, which is killed mid-batch and comes back empty; nobody ticks for them.
describe("worker processes after Redis lost its data", () => {
  let redis: PrivateRedis;
  let p: Pipeline | undefined;
  let fleet: WorkerFleet | undefined;
  const dir = mkdtempSync(join(tmpdir(), "worker-redis-loss-"));
  const now = new Date();

  beforeAll(async () => {
    // A free port can be taken between the probe and the start: try a few.
    for (let attempt = 0; ; attempt++) {
      redis = new PrivateRedis({ port: await freePort(), dir });
      try {
        await redis.start();
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
  });
  afterAll(async () => {
    await fleet?.stopAll(10_000);
    // Up again (a no-op when it is) so that cleaning up the queue cannot hang.
    await redis.start();
    await p?.close();
    await redis.stop();
  });

  it(
    "re-register their scheduler, which puts back the lost jobs; every reminder goes out exactly once",
    { timeout: 180_000 },
    async () => {
      p = await startPipeline({ sandbox: { seed: { grants: 8, now } }, env: { REDIS_URL: redis.url } });
      await p.sync();
      const grants = (
        await p.db.grant.findMany({
          where: { id: { in: p.sandbox.grantIds() }, ...GRANT_CAN_RUN_WHERE },
          select: { id: true },
        })
      ).map((g) => g.id);
      // Due at any hour of the local day, so the workers' own ticks pick every grant up.
      await p.db.grant.updateMany({ where: { id: { in: grants } }, data: { sendHour: 0 } });
      const expected = messagesOf(p.sandbox.expectedReminders({ now, grantIds: grants }));
      expect(expected).toBeGreaterThan(20);
      // Slow sends keep the batch going for a while.
      p.sandbox.setLatency({ perClass: { send: 150 } });

      // Redis is killed from inside the sandbox's handling of the n-th send: mid-batch however
      // fast the machine is. It stays down about a second and comes back empty (no persistence).
      const killAt = Math.floor(expected / 4);
      let sends = 0;
      let sentAtKill = -1;
      let killed!: Promise<void>;
      const faults = p.sandbox.faults;
      const delayFor = faults.delayFor.bind(faults);
      faults.delayFor = (cls) => {
        if (cls === "send" && ++sends === killAt) {
          sentAtKill = p!.sandbox.sentCount();
          killed = redis.kill();
        }
        return delayFor(cls);
      };

      fleet = new WorkerFleet({
        count: 2,
        logDir: join(dir, "logs"),
        env: {
          DATABASE_URL: testDatabaseUrl(),
          REDIS_URL: redis.url,
          NYLAS_API_KEY: p.sandbox.apiKey,
          NYLAS_API_URI: p.sandbox.url,
          QUEUE_PREFIX: p.config.QUEUE_PREFIX,
          SCHEDULER_EVERY_MS: "1000",
          WORKER_CONCURRENCY: "2",
          NYLAS_TIMEOUT_S: "2",
        },
      });
      fleet.startAll();

      await vi.waitFor(() => expect(sentAtKill).toBeGreaterThanOrEqual(0), { timeout: 90_000, interval: 50 });
      await killed;
      const runsAtKill = await p.db.run.findMany({ where: { grantId: { in: grants } } });
      await new Promise((r) => setTimeout(r, 1000));
      await redis.start();
      const restartedAt = Date.now();
      // Mid-batch: some reminders were out, not all; some runs were not done, so Redis held
      // their jobs when it lost them.
      expect(sentAtKill).toBeGreaterThan(0);
      expect(sentAtKill).toBeLessThan(expected);
      expect(runsAtKill.filter((r) => r.status === "completed").length).toBeLessThan(grants.length);

      await vi.waitFor(
        async () =>
          expect(await p!.db.run.count({ where: { grantId: { in: grants }, status: "completed" } })).toBe(
            grants.length,
          ),
        { timeout: 120_000, interval: 250 },
      );
      expect(await p.check(now)).toMatchObject({ ok: true, duplicates: [], unexpected: [] });
      expect(p.sandbox.sentMessages().filter((m) => grants.includes(m.grantId))).toHaveLength(expected);

      expect(await fleet.stopAll(60_000)).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      // The workers' own ticks (the test never ticks) queued the lost days again after the restart.
      const lines = readLogs(join(dir, "logs"));
      const ticksAfter = lines.filter((l) => l.msg === "scheduler tick" && l.time > restartedAt);
      expect(ticksAfter.some((l) => Number(l.enqueued) > 0)).toBe(true);
      expect(lines.some((l) => l.msg === "could not register the scheduler")).toBe(false);
    },
  );
});
