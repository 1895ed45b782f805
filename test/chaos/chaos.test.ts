/**
 * The chaos suite (chaos/) at CI size: the same eight scenarios and the same invariants as
 * `npm run chaos`, on a smaller batch with fewer kills and a shorter outage. Real worker
 * processes, a private Redis (port CHAOS_CI_REDIS_PORT, default 6391) and a private Postgres
 * cluster (CHAOS_CI_PG_PORT, default 5441), so nothing here touches the shared servers.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChaosSettings } from "../../chaos/batch.js";
import { SCENARIOS } from "../../chaos/scenarios.js";
import { mulberry32 } from "nylas-sandbox";
import { PrivatePostgres } from "../../harness/postgres-server.js";
import { PrivateRedis } from "../../harness/redis-server.js";

const logDir = join(tmpdir(), `nr-chaos-ci-${process.pid}-${Date.now()}`);
mkdirSync(logDir, { recursive: true });
const redis = new PrivateRedis({ port: Number(process.env.CHAOS_CI_REDIS_PORT ?? 6391), dir: logDir });
const pgPort = Number(process.env.CHAOS_CI_PG_PORT ?? 5441);
const postgres = new PrivatePostgres({ port: pgPort, dir: join(tmpdir(), `nr-chaos-pg-${pgPort}`) });
const settings: ChaosSettings = {
  grants: 120,
  seed: 7,
  redisUrl: redis.url,
  pgServerUrl: postgres.url,
  workers: 2,
  concurrency: 20,
  kills: 3,
  // Scenario 6 relies on dropped answers alone here; kills are scenario 1's.
  sendKills: 0,
  outageMs: 6000,
  keyOutageMs: 6000,
  timeoutMs: 120_000,
  logDir,
  dbPrefix: "chaos_ci",
};
const random = mulberry32(settings.seed);

describe("chaos suite (CI size)", () => {
  beforeAll(async () => {
    await redis.start();
    await postgres.start();
  });
  afterAll(async () => {
    await redis.stop();
    await postgres.stop();
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.title}`, { timeout: 150_000 }, async () => {
      const r = await scenario.run({ settings, redis, random });
      // The figures go to the report so a failing run says what happened.
      console.log(
        `${r.ok ? "PASS" : "FAIL"} ${r.name} ${(r.ms / 1000).toFixed(1)} s ${JSON.stringify(r.figures)} (logs: ${logDir})`,
      );
      expect(r.problems).toEqual([]);
      expect(r.figures.sent).toBeGreaterThan(0);
    });
  }
});
