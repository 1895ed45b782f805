// `npm run grants:settings -- --help` — show or change a grant's reminder settings.
import { requireSettings } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";
import { settingsDefaults } from "../src/grants/settings.js";
import { parseSettingsArgs, SETTINGS_EXIT, SETTINGS_USAGE, SettingsUsageError } from "../src/grants/settings-args.js";
import { runSettingsCommand } from "../src/grants/settings-command.js";
import { readCommandArgs, runProcess } from "../src/process.js";

const args = readCommandArgs("grants:settings", parseSettingsArgs, {
  usage: SETTINGS_USAGE,
  usageExit: SETTINGS_EXIT.usage,
  UsageError: SettingsUsageError,
});

// Logs are for trouble only; the command's own output is the settings.
process.env.LOG_LEVEL ??= "warn";

await runProcess("grants-settings", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for grants:settings");
  const db = await createPrisma(config.DATABASE_URL, { max: 2 });
  try {
    const print = (text: string) => process.stdout.write(`${text}\n`);
    process.exitCode = await runSettingsCommand(db, args, settingsDefaults(config), print);
  } catch (err) {
    log.error({ err }, "grants:settings failed");
    process.exitCode = SETTINGS_EXIT.failed;
  } finally {
    await db.$disconnect();
  }
  return { close: async () => {} };
});
await new Promise<void>((r) => process.stdout.write("", () => r()));
process.exit(process.exitCode ?? 0);
