/** Shared shapes of the reminder core. Pure data: no SDK classes, no I/O. */

export interface EmailAddress {
  name?: string;
  email: string;
}

/** One meeting the user should be reminded about, normalised from a Nylas event. */
export interface Meeting {
  eventId: string;
  /** Unix seconds; for an all-day meeting, local midnight of its first day in the grant's zone. */
  start: number;
  /** Unix seconds, >= start. */
  end: number;
  /** As the provider has it (may be ""); the template shows "(no title)" for blank titles. */
  title: string;
  location?: string;
  conferencingUrl?: string;
  description?: string;
  organizer?: EmailAddress;
  /** Who the reminder goes to: never the user, never a decliner, deduplicated case-insensitively. */
  recipients: EmailAddress[];
  recurring: boolean;
  /** Only set (true) for all-day events selected with includeAllDay. */
  allDay?: boolean;
}

export type SkipReason =
  "outside_window" | "cancelled" | "all_day" | "declined_by_user" | "no_other_participants" | "malformed";

export interface SelectionProblem {
  eventId?: string;
  reason: string;
}

export interface Selection {
  meetings: Meeting[];
  skipped: Partial<Record<SkipReason, number>>;
  problems: SelectionProblem[];
}
