/**
 * The production worker (`startWorkerApp`, as `jobs/worker.ts` builds it) without the
 * repeating scheduler tick, so the bench decides when the batch is enqueued and no tick
 * runs in the middle of the measured batch. Same config, same Prisma pool sizing.
 */
import { startWorkerApp } from "../../src/worker.js";
import { runProcess } from "../../src/process.js";
import { requireSettings } from "../../src/config.js";
import { createPrisma } from "../../src/db/client.js";
import { maybeProfile } from "../lib/profile.js";

await runProcess("bench-worker", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for the bench worker");
  const db = await createPrisma(config.DATABASE_URL, { max: Math.min(50, config.WORKER_CONCURRENCY + 5) });
  const stopProfile = await maybeProfile("worker");
  const app = await startWorkerApp(config, log, { db, scheduler: false });
  log.warn({ concurrency: config.WORKER_CONCURRENCY }, "bench worker started");
  return {
    async close() {
      await app.close();
      await db.$disconnect();
      await stopProfile();
    },
  };
});
