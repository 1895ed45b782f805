import type { Db } from "../db/client.js";
import { describeSettings, effectiveSettings, type SettingsDefaults } from "./settings.js";
import { SETTINGS_EXIT, type SettingsArgs } from "./settings-args.js";
import { applyGrantSettings, findGrantsByEmail, readGrantSettings } from "./settings-store.js";

/**
 * What `npm run grants:settings` does once its arguments are read: finds the grant, applies
 * the changes through the settings writer, and prints the settings in effect. Gives the exit code.
 */
export async function runSettingsCommand(
  db: Db,
  args: SettingsArgs,
  defaults: SettingsDefaults,
  line: (text: string) => void,
  now?: Date,
): Promise<number> {
  const unknown = () => {
    line(`grants:settings: unknown grant: ${args.target} (not in the database; run npm run grants:sync or connect it)`);
    return SETTINGS_EXIT.usage;
  };
  let grantId = args.target;
  if (args.byEmail) {
    const found = await findGrantsByEmail(db, args.target, 10);
    if (found.length === 0) return unknown();
    if (found.length > 1) {
      line(
        `grants:settings: ${found.length} grants have this address; name one by id: ${found.map((g) => g.id).join(", ")}`,
      );
      return SETTINGS_EXIT.usage;
    }
    grantId = found[0]!.id;
  }
  let reopened: string[] = [];
  if (Object.keys(args.patch).length > 0) {
    const w = await applyGrantSettings(db, grantId, args.patch, now);
    if (w.missing) return unknown();
    reopened = w.reopened;
  }
  const stored = await readGrantSettings(db, grantId);
  if (!stored) return unknown();
  for (const text of describeSettings(effectiveSettings(stored, defaults))) line(text);
  if (reopened.length > 0) line(`days run again when due: ${reopened.join(", ")}`);
  return SETTINGS_EXIT.done;
}
