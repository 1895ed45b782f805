/**
 * What each provider behind a Nylas grant supports, as Nylas' API reference says
 * (email-calendar.yaml). Pure: the rest of the worker asks here instead of testing provider
 * names, so a provider's quirks live in one place.
 */

/**
 * How a reminder whose send may have gone out is found in the grant's mailbox once Nylas'
 * Idempotency-Key has expired (it covers an hour):
 *
 * - `marker_header`: the Sent folder (`in=SENT`, Google's folder id) with
 *   `fields=include_headers`, matching the reminder's marker header.
 * - `subject_search`: Microsoft returns no headers for messages in its Sent folder, so the
 *   folder is found by its `\Sent` attribute and searched by the reminder's deterministic
 *   subject, its recipients and the time of its first attempt.
 * - `none`: headers are not supported (IMAP, iCloud, Yahoo) or may be empty for the grant's
 *   own messages (EWS), and where the provider stores sent mail is not documented: nothing
 *   found proves nothing, so an uncertain reminder is never sent again there.
 */
export type SentCheckMethod = "marker_header" | "subject_search" | "none";

export function sentCheckMethod(provider: string): SentCheckMethod {
  if (provider === "google") return "marker_header";
  if (provider === "microsoft") return "subject_search";
  return "none";
}

/** Calendars are "Not supported for IMAP": an IMAP grant has no meetings to remind of. */
export const NO_CALENDAR = ["imap"] as const;

export function providerHasCalendar(provider: string): boolean {
  return !(NO_CALENDAR as readonly string[]).includes(provider);
}

/** "For iCloud, there is no `primary` calendar": its calendar is found in the grant's list. */
export const NO_PRIMARY_CALENDAR = ["icloud"] as const;

export function providerHasPrimaryCalendar(provider: string): boolean {
  return providerHasCalendar(provider) && !(NO_PRIMARY_CALENDAR as readonly string[]).includes(provider);
}

/** What the worker does with a grant, each needing its own consent. */
export type Access = "calendar_read" | "mail_send" | "mail_read";

/**
 * The least-privilege provider scopes for each access (Google's and Microsoft's names; the
 * other providers sign in with credentials and have no scopes). `mail_read` serves only the
 * Sent-folder check and may be left out: without it, a reminder whose send may have gone
 * out more than an hour earlier is not sent again (see `sentCheckMethod`).
 */
const SCOPES: Record<string, Record<Access, readonly string[]> & { base: readonly string[] }> = {
  google: {
    base: [
      "openid",
      "https://www.googleapis.com/auth/userinfo.email",
      "https://www.googleapis.com/auth/userinfo.profile",
    ],
    calendar_read: ["https://www.googleapis.com/auth/calendar.readonly"],
    mail_send: ["https://www.googleapis.com/auth/gmail.send"],
    mail_read: ["https://www.googleapis.com/auth/gmail.readonly"],
  },
  microsoft: {
    base: ["offline_access", "User.Read"],
    calendar_read: ["Calendars.Read"],
    mail_send: ["Mail.Send"],
    mail_read: ["Mail.Read"],
  },
};

/** The scopes to request for a provider, or undefined when it has none (credentials sign-in). */
export function scopesFor(provider: string, access: readonly Access[]): string[] | undefined {
  const table = SCOPES[provider];
  if (!table) return undefined;
  return [...table.base, ...access.flatMap((a) => table[a])];
}

/** The providers whose scopes `scopesFor` knows. */
export const SCOPED_PROVIDERS = Object.keys(SCOPES);

/** In words, for a grant's status reason: what a refused scope kept the worker from doing. */
export function describeAccess(provider: string, access: Access): string {
  const names = SCOPES[provider]?.[access];
  const what = { calendar_read: "read the calendar", mail_send: "send email", mail_read: "read email" }[access];
  return names ? `${what} (${names.join(" ")})` : what;
}

/**
 * "Microsoft Graph and iCloud do not support the List-Unsubscribe-Post or List-Unsubscribe
 * headers" (email-calendar.yaml, send): their reminders carry only the visible link.
 */
export const NO_LIST_UNSUBSCRIBE = ["microsoft", "icloud"] as const;

export function providerSendsListUnsubscribe(provider: string): boolean {
  return !(NO_LIST_UNSUBSCRIBE as readonly string[]).includes(provider);
}
