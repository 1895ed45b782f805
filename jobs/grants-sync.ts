// `npm run grants:sync` — upserts every grant of the Nylas application into Postgres.
import { requireSettings } from "../src/config.js";
import { runProcess } from "../src/process.js";
import { createPrisma } from "../src/db/client.js";
import { syncGrants } from "../src/grants/sync.js";
import { NylasApi } from "../src/nylas/client.js";

await runProcess("grants-sync", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for grants:sync");
  const db = await createPrisma(config.DATABASE_URL);
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
  });
  try {
    const result = await syncGrants(db, nylas, log, {
      defaultTimeZone: config.DEFAULT_TIME_ZONE,
      defaultSendHour: config.DEFAULT_SEND_HOUR,
    });
    log.info(result, "grants synced");
    process.exitCode = result.errors > 0 ? 1 : 0;
  } finally {
    await db.$disconnect();
  }
  return { close: async () => {} };
});
process.exit(process.exitCode ?? 0);
