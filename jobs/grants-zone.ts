// `npm run grants:zone -- --help` — set or clear an operator's override of a grant's time zone.
import { requireSettings } from "../src/config.js";
import { createPrisma } from "../src/db/client.js";
import { parseZoneArgs, ZONE_EXIT, ZONE_USAGE, ZoneUsageError, type ZoneArgs } from "../src/grants/zone-args.js";
import { runZoneCommand } from "../src/grants/zone-command.js";
import { runProcess } from "../src/process.js";

const args = readArgs();

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

/** The command line; `--help` and a usage error exit here. */
function readArgs(): ZoneArgs {
  try {
    const parsed = parseZoneArgs(process.argv.slice(2));
    if (parsed === "help") {
      process.stdout.write(`${ZONE_USAGE}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (err) {
    if (err instanceof ZoneUsageError) {
      process.stderr.write(`grants:zone: ${err.message} (see --help)\n`);
      process.exit(ZONE_EXIT.usage);
    }
    throw err;
  }
}
