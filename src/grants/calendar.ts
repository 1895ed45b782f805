import { providerHasCalendar, providerHasPrimaryCalendar } from "../nylas/providers.js";

/**
 * Which calendar of a grant holds its meetings, by provider (src/nylas/providers.ts). Pure.
 *
 * Most providers answer `primary` for the user's default calendar. iCloud has none ("For
 * iCloud, there is no `primary` calendar", Nylas' spec): its calendar is picked from
 * `GET /grants/{id}/calendars` and its id stored on the grant. IMAP grants have no calendars
 * at all: no calendar route is called for them.
 */

export type CalendarAccess = "primary" | "list" | "none";

export function calendarAccess(provider: string): CalendarAccess {
  if (!providerHasCalendar(provider)) return "none";
  return providerHasPrimaryCalendar(provider) ? "primary" : "list";
}

export interface CalendarInfo {
  id: string;
  isPrimary?: boolean;
  isOwnedByUser?: boolean;
  readOnly?: boolean;
  /** IANA zone; Nylas reports it for Google and virtual calendars only. */
  timezone?: string;
}

/** The calendar marked primary, else the first one the user owns and can write, else none. */
export function pickCalendar(calendars: readonly CalendarInfo[]): CalendarInfo | undefined {
  const usable = calendars.filter((c) => typeof c.id === "string" && c.id.length > 0);
  return usable.find((c) => c.isPrimary === true) ?? usable.find((c) => c.isOwnedByUser === true && !c.readOnly);
}
