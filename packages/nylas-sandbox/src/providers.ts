/**
 * What differs between providers, as email-calendar.yaml says, in one table: which calendar
 * fields a provider exposes, whether it has calendars or a `primary` one at all, how it treats
 * `fields=include_headers`, and the limits of its event queries. Pure data and small pure
 * functions; the handlers ask this module instead of testing provider names themselves.
 */
import type { Provider } from "./types.js";

/** What `fields=include_headers` does on a provider (spec, GET /messages `fields`). */
export type HeaderPolicy =
  /** Headers as sent, custom ones included (Google). */
  | "all"
  /** Always empty for messages in the Sent folder (Microsoft Graph). */
  | "empty_in_sent"
  /** Empty for messages the grant itself sent (EWS). */
  | "empty_if_sent_by_grant"
  /** 400: not supported (IMAP, iCloud, Yahoo). */
  | "unsupported";

export interface ProviderProfile {
  /** Calendars and events exist ("Not supported for IMAP"). */
  calendars: boolean;
  /** A calendar carries `timezone` (Google and virtual calendars only). */
  calendarTimezone: boolean;
  /** `primary` names a calendar ("For iCloud, there is no `primary` calendar"). */
  primaryCalendar: boolean;
  /** Email routes (messages, folders, send) exist; virtual calendars have no mailbox. */
  mail: boolean;
  headers: HeaderPolicy;
  /** Largest `end - start` of an events query, in calendar months (iCloud: 6). */
  maxEventRangeMonths?: number;
  /** The provider checks OAuth scopes (Google, Microsoft); the others never answer 403. */
  scoped: boolean;
  /**
   * `List-Unsubscribe` and `List-Unsubscribe-Post` in `custom_headers` reach the message
   * ("Microsoft Graph and iCloud do not support" them: dropped there).
   */
  listUnsubscribe: boolean;
}

const PROFILES: Record<Provider, ProviderProfile> = {
  google: {
    calendars: true,
    calendarTimezone: true,
    primaryCalendar: true,
    mail: true,
    headers: "all",
    scoped: true,
    listUnsubscribe: true,
  },
  microsoft: {
    calendars: true,
    calendarTimezone: false,
    primaryCalendar: true,
    mail: true,
    headers: "empty_in_sent",
    scoped: true,
    listUnsubscribe: false,
  },
  ews: {
    calendars: true,
    calendarTimezone: false,
    primaryCalendar: true,
    mail: true,
    headers: "empty_if_sent_by_grant",
    scoped: false,
    listUnsubscribe: true,
  },
  icloud: {
    calendars: true,
    calendarTimezone: false,
    primaryCalendar: false,
    mail: true,
    headers: "unsupported",
    maxEventRangeMonths: 6,
    scoped: false,
    listUnsubscribe: false,
  },
  yahoo: {
    calendars: true,
    calendarTimezone: false,
    primaryCalendar: true,
    mail: true,
    headers: "unsupported",
    scoped: false,
    listUnsubscribe: true,
  },
  imap: {
    calendars: false,
    calendarTimezone: false,
    primaryCalendar: false,
    mail: true,
    headers: "unsupported",
    scoped: false,
    listUnsubscribe: true,
  },
  "virtual-calendar": {
    calendars: true,
    calendarTimezone: true,
    primaryCalendar: true,
    mail: false,
    headers: "unsupported",
    scoped: false,
    listUnsubscribe: true,
  },
};

export function profileOf(provider: Provider): ProviderProfile {
  return PROFILES[provider];
}

/** Provider names as the error messages spell them. */
export const PROVIDER_LABEL: Record<Provider, string> = {
  google: "Google",
  microsoft: "Microsoft",
  ews: "EWS",
  icloud: "iCloud",
  yahoo: "Yahoo",
  imap: "IMAP",
  "virtual-calendar": "virtual calendar",
};

/** The spec's words for an iCloud query over six months. */
export const ICLOUD_RANGE_MESSAGE = "The maximum time range for iCloud event queries is 6 months.";

/**
 * Whether [start, end] (Unix seconds) spans more than `months` calendar months, counted in
 * UTC from `start` (end = start + 6 months exactly is still allowed).
 */
export function exceedsMonths(start: number, end: number, months: number): boolean {
  const d = new Date(start * 1000);
  const limit = Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() + months,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
  return end * 1000 > limit;
}
