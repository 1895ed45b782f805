/**
 * A grant's per-user settings: the patch an operator may apply (checked here, pure), and the
 * settings in effect once the deployment's defaults fill the grant's blanks. The admin API
 * (src/web/admin/) and `npm run grants:settings` both go through this module and the writer
 * (src/grants/settings-store.ts), so they accept and answer exactly the same.
 */
import { canonicalLocale, isSupportedLocale } from "../reminders/catalogue.js";
import { normalizeZone, type ZoneSource } from "./zone-source.js";
import { REMINDER_POLICIES as POLICIES, type ReminderPolicy as Policy } from "../reminders/policy.js";

export const CALENDAR_ID_MAX = 1024;

/** What may change; an absent key stays as it is, null puts the deployment's default back. */
export interface SettingsPatch {
  /** Local hour (0-23) from which the next day's reminders go out. */
  sendHour?: number;
  enabled?: boolean;
  /** null: REMINDER_POLICY. */
  policy?: Policy | null;
  /** An IANA zone set as the operator's override; null clears the override. */
  timeZone?: string | null;
  /** A BCP 47 tag (stored canonical); null: DEFAULT_LOCALE. */
  locale?: string | null;
  calendarId?: string;
}

export const PATCH_KEYS = ["sendHour", "enabled", "policy", "timeZone", "locale", "calendarId"] as const;

export type PatchCheck = { ok: true; patch: SettingsPatch } | { ok: false; problems: string[] };

const show = (v: unknown): string => JSON.stringify(v)?.slice(0, 64) ?? String(v);

/** Checks an untrusted patch (a parsed JSON body, the CLI's flags): one line per problem. */
export function checkSettingsPatch(input: unknown): PatchCheck {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    return { ok: false, problems: ["the settings must be a JSON object"] };
  const problems: string[] = [];
  const patch: SettingsPatch = {};
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given))
    if (!(PATCH_KEYS as readonly string[]).includes(key))
      problems.push(`unknown setting ${show(key)} (known: ${PATCH_KEYS.join(", ")})`);
  const has = (key: string) => Object.hasOwn(given, key);

  if (has("sendHour")) {
    const v = given.sendHour;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 23) patch.sendHour = v;
    else problems.push(`sendHour must be a whole number 0-23, not ${show(v)}`);
  }
  if (has("enabled")) {
    const v = given.enabled;
    if (typeof v === "boolean") patch.enabled = v;
    else problems.push(`enabled must be true or false, not ${show(v)}`);
  }
  if (has("policy")) {
    const v = given.policy;
    if (v === null || (typeof v === "string" && (POLICIES as readonly string[]).includes(v)))
      patch.policy = v as Policy | null;
    else problems.push(`policy must be one of ${POLICIES.join(", ")} or null (the default), not ${show(v)}`);
  }
  if (has("timeZone")) {
    const v = given.timeZone;
    const zone = v === null ? null : normalizeZone(v);
    if (zone !== undefined) patch.timeZone = zone;
    else problems.push(`timeZone must be an IANA time zone such as Europe/Berlin, or null (clear), not ${show(v)}`);
  }
  if (has("locale")) {
    const v = given.locale;
    if (v === null) patch.locale = null;
    else if (isSupportedLocale(v)) patch.locale = canonicalLocale(v)!;
    else
      problems.push(`locale must be a BCP 47 tag in en, fr or de (e.g. fr-CA), or null (the default), not ${show(v)}`);
  }
  if (has("calendarId")) {
    const v = given.calendarId;
    // eslint-disable-next-line no-control-regex
    const clean = typeof v === "string" && v.trim() !== "" && !/[\u0000-\u001f\u007f]/.test(v);
    if (clean && v.length <= CALENDAR_ID_MAX) patch.calendarId = v;
    else problems.push(`calendarId must be a non-empty string of at most ${CALENDAR_ID_MAX} characters, no controls`);
  }
  if (problems.length === 0 && Object.keys(patch).length === 0)
    problems.push(`name at least one setting (${PATCH_KEYS.join(", ")})`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, patch };
}

/** A grant's settings as stored. */
export interface StoredSettings {
  id: string;
  email: string;
  provider: string;
  status: string;
  sendHour: number;
  enabled: boolean;
  policy: Policy | null;
  locale: string | null;
  calendarId: string;
  timeZone: string;
  timeZoneSource: ZoneSource;
}

/** What fills a grant's blanks. */
export interface SettingsDefaults {
  policy: Policy;
  locale: string;
}

/** The settings a grant's reminders follow; `…Default` says the value is the deployment's. */
export interface EffectiveSettings {
  grantId: string;
  email: string;
  provider: string;
  status: string;
  sendHour: number;
  enabled: boolean;
  policy: Policy;
  policyDefault: boolean;
  timeZone: string;
  timeZoneSource: ZoneSource;
  /** The zone is the operator's, kept until cleared (timeZone: null). */
  timeZoneOverride: boolean;
  locale: string;
  localeDefault: boolean;
  calendarId: string;
}

export function effectiveSettings(s: StoredSettings, defaults: SettingsDefaults): EffectiveSettings {
  return {
    grantId: s.id,
    email: s.email,
    provider: s.provider,
    status: s.status,
    sendHour: s.sendHour,
    enabled: s.enabled,
    policy: s.policy ?? defaults.policy,
    policyDefault: s.policy === null,
    timeZone: s.timeZone,
    timeZoneSource: s.timeZoneSource,
    timeZoneOverride: s.timeZoneSource === "override",
    locale: s.locale ?? defaults.locale,
    localeDefault: s.locale === null,
    calendarId: s.calendarId,
  };
}

/** The deployment's defaults from its configuration: REMINDER_POLICY and DEFAULT_LOCALE. */
export function settingsDefaults(config: { REMINDER_POLICY: Policy; DEFAULT_LOCALE: string }): SettingsDefaults {
  return { policy: config.REMINDER_POLICY, locale: config.DEFAULT_LOCALE };
}

/** The settings as one line per setting, for the CLI. */
export function describeSettings(e: EffectiveSettings): string[] {
  const dflt = (yes: boolean) => (yes ? " (default)" : "");
  return [
    `grant       ${e.grantId} <${e.email}> (${e.provider}, ${e.status})`,
    `enabled     ${e.enabled}`,
    `send hour   ${e.sendHour}`,
    `policy      ${e.policy}${dflt(e.policyDefault)}`,
    `time zone   ${e.timeZone} (${e.timeZoneSource})`,
    `locale      ${e.locale}${dflt(e.localeDefault)}`,
    `calendar    ${e.calendarId}`,
  ];
}
