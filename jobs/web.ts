// Procfile `web:` — Bull Board, /healthz, Nylas webhooks and the hosted-OAuth connect flow.
import { runProcess } from "../src/process.js";
import { requireSettings } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";
import { checkWebConfig, startWebApp } from "../src/web/app.js";

await runProcess("web", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for the web process");
  checkWebConfig(config);
  const db = await createPrisma(config.DATABASE_URL, { max: 10 });
  let app;
  try {
    app = await startWebApp(config, log, { db });
  } catch (err) {
    await db.$disconnect();
    throw err;
  }
  const web = app;
  return {
    async close() {
      // Heroku sends SIGKILL 30 s after SIGTERM: requests get 20 s, the rest is cleanup.
      await web.close(20_000);
      await db.$disconnect();
    },
  };
});
