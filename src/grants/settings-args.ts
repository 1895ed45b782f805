import { parseArgs } from "node:util";
import { GRANT_ID_RULE, isGrantId } from "../backfill/args.js";
import { checkSettingsPatch, type SettingsPatch } from "./settings.js";

/** Exit codes of `npm run grants:settings` (listed in USAGE and the README). */
export const SETTINGS_EXIT = { done: 0, failed: 1, usage: 2 } as const;

export const SETTINGS_USAGE = `usage: npm run grants:settings -- GRANT_ID|EMAIL [settings]

Shows a grant's reminder settings in effect; with settings, changes them first. The grant is
named by its id, or by its address when only one grant has it.

  --send-hour N              local hour 0-23 from which the next day's reminders go out
  --enabled true|false       whether the grant gets reminders at all
  --policy P|default         organized, all or external; default: REMINDER_POLICY
  --zone Z|default           an IANA zone (e.g. Europe/Berlin) set as an override, as
                             npm run grants:zone does; default clears the override
  --locale L|default         BCP 47 tag the reminders are written in: en, fr, de or a region
                             of one (e.g. fr-CA); default: DEFAULT_LOCALE
  --calendar ID              the calendar the reminders' meetings are read from
  -h, --help                 this text

Exit codes: 0 done; 1 an unexpected error; 2 bad arguments or configuration, or an unknown
(or ambiguous) grant (nothing changed). On Heroku:
  heroku run -- npm run grants:settings -- <grant-id> --locale fr --send-hour 17`;

export interface SettingsArgs {
  /** A grant id, or an address when `byEmail`. */
  target: string;
  byEmail: boolean;
  /** Empty: only show the settings. */
  patch: SettingsPatch;
}

export class SettingsUsageError extends Error {
  override name = "SettingsUsageError";
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Parses argv (without node and the script). Returns "help", the arguments, or throws SettingsUsageError. */
export function parseSettingsArgs(argv: string[]): SettingsArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        "send-hour": { type: "string" },
        enabled: { type: "string" },
        policy: { type: "string" },
        zone: { type: "string" },
        locale: { type: "string" },
        calendar: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new SettingsUsageError((err as Error).message.split("\n")[0]!);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return "help";
  const [target, ...rest] = positionals;
  if (target === undefined) throw new SettingsUsageError("name the grant: GRANT_ID or EMAIL");
  if (rest.length > 0) throw new SettingsUsageError(`unexpected argument "${rest[0]!.slice(0, 40)}"`);
  const byEmail = target.includes("@");
  if (byEmail ? !EMAIL.test(target) || target.length > 320 : !isGrantId(target))
    throw new SettingsUsageError(`name the grant by its id (${GRANT_ID_RULE}) or its email address`);

  const raw: Record<string, unknown> = {};
  const orDefault = (s: string) => (s === "default" ? null : s);
  const hour = v["send-hour"];
  if (hour !== undefined) raw.sendHour = /^\d{1,2}$/.test(hour) ? Number(hour) : hour;
  if (v.enabled !== undefined) raw.enabled = v.enabled === "true" ? true : v.enabled === "false" ? false : v.enabled;
  if (v.policy !== undefined) raw.policy = orDefault(v.policy);
  if (v.zone !== undefined) raw.timeZone = orDefault(v.zone);
  if (v.locale !== undefined) raw.locale = orDefault(v.locale);
  if (v.calendar !== undefined) raw.calendarId = v.calendar;
  if (Object.keys(raw).length === 0) return { target, byEmail, patch: {} };
  const check = checkSettingsPatch(raw);
  if (!check.ok) throw new SettingsUsageError(check.problems.map(flagNames).join("; "));
  return { target, byEmail, patch: check.patch };
}

/** The checker speaks of the API's keys; the command line has flags. */
function flagNames(problem: string): string {
  const flags: Record<string, string> = {
    sendHour: "--send-hour",
    enabled: "--enabled",
    policy: "--policy",
    timeZone: "--zone",
    locale: "--locale",
    calendarId: "--calendar",
  };
  return problem
    .replace(/^(\w+) must/, (m, key: string) => (flags[key] ? `${flags[key]} must` : m))
    .replace(/ or null \((?:the default|clear)\)/, " or default");
}
