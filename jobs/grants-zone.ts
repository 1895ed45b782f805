// `npm run grants:zone -- --help` — set or clear an operator's override of a grant's time zone.
import { requireSettings } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";
import { parseZoneArgs, ZONE_EXIT, ZONE_USAGE, ZoneUsageError } from "../src/grants/zone-args.js";
import { runZoneCommand } from "../src/grants/zone-command.js";
import { readCommandArgs, runProcess } from "../src/process.js";

const args = readCommandArgs("grants:zone", parseZoneArgs, {
  usage: ZONE_USAGE,
  usageExit: ZONE_EXIT.usage,
  UsageError: ZoneUsageError,
});

// Logs are for trouble only; the command's own output is its one line.
process.env.LOG_LEVEL ??= "warn";

await runProcess("grants-zone", async (config, log) => {
  requireSettings(config, ["DATABASE_URL"], "for grants:zone");
  const db = await createPrisma(config.DATABASE_URL, { max: 2 });
  try {
    process.exitCode = await runZoneCommand(db, args, (text) => process.stdout.write(`${text}\n`));
  } catch (err) {
    log.error({ err }, "grants:zone failed");
    process.exitCode = ZONE_EXIT.failed;
  } finally {
    await db.$disconnect();
  }
  return { close: async () => {} };
});
await new Promise<void>((r) => process.stdout.write("", () => r()));
process.exit(process.exitCode ?? 0);
