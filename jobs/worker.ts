// Procfile `worker:` — BullMQ workers for the nightly runs, plus the scheduler tick.
import { startWorkerApp } from "../src/worker.js";
import { runProcess } from "../src/process.js";
import { requireSettings } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";

await runProcess("worker", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for the worker");
  const db = await createPrisma(config.DATABASE_URL, { max: Math.min(50, config.WORKER_CONCURRENCY + 5) });
  const app = await startWorkerApp(config, log, { db });
  log.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      everyMs: config.SCHEDULER_EVERY_MS,
      shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    },
    "worker started",
  );
  return {
    async close() {
      await app.close(config.SHUTDOWN_GRACE_MS);
      await db.$disconnect();
    },
  };
});
