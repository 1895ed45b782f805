import type { Db } from "../db/client.js";
import { clearGrantZoneOverride, overrideGrantZone, type ZoneWrite } from "./zone.js";
import { ZONE_EXIT, type ZoneArgs } from "./zone-args.js";
import { zoneWithSource } from "./zone-source.js";

/**
 * What `npm run grants:zone` does once its arguments are read: sets or clears the grant's
 * override through the zone writer and says, in one line, what changed. Gives the exit code.
 */
export async function runZoneCommand(
  db: Db,
  args: ZoneArgs,
  line: (text: string) => void,
  now?: Date,
): Promise<number> {
  const w =
    "zone" in args
      ? await overrideGrantZone(db, args.grantId, args.zone, now)
      : await clearGrantZoneOverride(db, args.grantId, now);
  if (!w.before || !w.after) {
    line(
      `grants:zone: unknown grant: ${args.grantId} (not in the database; run npm run grants:sync or connect it first)`,
    );
    return ZONE_EXIT.usage;
  }
  line(`${args.grantId}: ${describe(args, w)}`);
  return ZONE_EXIT.done;
}

function describe(args: ZoneArgs, w: ZoneWrite): string {
  const before = zoneWithSource(w.before!.zone, w.before!.source);
  const after = zoneWithSource(w.after!.zone, w.after!.source);
  const reopened = w.reopened.length > 0 ? `; days run again when due: ${w.reopened.join(", ")}` : "";
  if ("zone" in args) return w.written ? `zone ${after}, was ${before}${reopened}` : `zone already ${after}`;
  if (!w.written) return `no override to clear; zone ${after}`;
  return (
    `override cleared; ${w.after!.zone} stays until the next grants sync or sign-in puts the best ` +
    "automatic zone in its place (calendar, browser at sign-in, events, else the default)"
  );
}
