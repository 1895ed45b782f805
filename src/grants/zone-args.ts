import { parseArgs } from "node:util";
import { isGrantId, GRANT_ID_RULE } from "../backfill/args.js";
import { normalizeZone } from "./zone-source.js";

/** Exit codes of `npm run grants:zone` (listed in USAGE and the README). */
export const ZONE_EXIT = { done: 0, failed: 1, usage: 2 } as const;

export const ZONE_USAGE = `usage: npm run grants:zone -- GRANT_ID ZONE
       npm run grants:zone -- GRANT_ID --clear

Sets a grant's time zone by hand (source "override"): its reminders go out at its send hour in
ZONE, and no grants sync, webhook or sign-in changes it until the override is cleared. Days the
grant already ran whose day in ZONE reaches past what its runs covered are run again when due.

  ZONE        an IANA time zone, e.g. Europe/Berlin or America/Los_Angeles
  --clear     remove the override: the grant keeps its current zone until the next grants sync
              or sign-in puts the best automatic one in its place (its calendar's zone, else
              the zone of its browser at the next sign-in, else one inferred from its events,
              else DEFAULT_TIME_ZONE)
  -h, --help  this text

Exit codes: 0 done; 1 an unexpected error; 2 bad arguments or configuration, an unknown zone,
or an unknown grant (nothing changed). On Heroku:
  heroku run -- npm run grants:zone -- <grant-id> Europe/Berlin`;

export type ZoneArgs = { grantId: string; zone: string } | { grantId: string; clear: true };

export class ZoneUsageError extends Error {
  override name = "ZoneUsageError";
}

/** Parses argv (without node and the script). Returns "help", the arguments, or throws ZoneUsageError. */
export function parseZoneArgs(argv: string[]): ZoneArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { clear: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new ZoneUsageError((err as Error).message.split("\n")[0]!);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const [grantId, zone, ...rest] = positionals;
  if (grantId === undefined) throw new ZoneUsageError("name the grant: GRANT_ID ZONE, or GRANT_ID --clear");
  if (!isGrantId(grantId)) throw new ZoneUsageError(`the grant id must be ${GRANT_ID_RULE}`);
  if (rest.length > 0) throw new ZoneUsageError(`unexpected argument "${rest[0]!.slice(0, 40)}"`);
  if (values.clear) {
    if (zone !== undefined) throw new ZoneUsageError("give either a ZONE or --clear, not both");
    return { grantId, clear: true };
  }
  if (zone === undefined) throw new ZoneUsageError("name the zone (e.g. Europe/Berlin), or --clear");
  const normal = normalizeZone(zone);
  if (normal === undefined)
    throw new ZoneUsageError(`"${zone.slice(0, 64)}" is not an IANA time zone (e.g. Europe/Berlin)`);
  return { grantId, zone: normal };
}
