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
  /** The iCalendar UID: the same meeting on every attendee's calendar (with the same start). */
  icalUid?: string;
  /** The user organises it (the event's organizer is the grant's address, or none is given). */
  userIsOrganizer: boolean;
  /** The organiser hid the guest list: each recipient gets a message of their own. */
  hideParticipants?: boolean;
  /** A re-run found it moved since its reminder went out: the start it had then (Unix seconds). */
  movedFrom?: number;
  /** Not a meeting to remind of: the notice that this reminded meeting was cancelled (src/reminders/changes.ts). */
  cancelled?: boolean;
}

export type SkipReason =
  | "outside_window"
  | "cancelled"
  | "all_day"
  | "declined_by_user"
  | "no_other_participants"
  | "malformed"
  /** The policy wants meetings the user organises (or with outside guests), and this is not one. */
  | "not_organizer"
  /**
   * The `external` policy: the user organises it, but every recipient shares the user's
   * email domain (an internal meeting).
   */
  | "internal_only"
  /** More recipients than the deployment's cap. */
  | "too_many_recipients"
  /** A private event: its existence is not the user's to announce. */
  | "private"
  /** Another connected user's grant reminds this meeting's people. */
  | "covered_by_other_grant"
  /** Every recipient asked for no reminders (the suppression list). */
  | "opted_out"
  /** Starts within MIN_LEAD_MINUTES of the send, or already began. */
  | "started";

export interface SelectionProblem {
  eventId?: string;
  reason: string;
}

export interface Selection {
  meetings: Meeting[];
  skipped: Partial<Record<SkipReason, number>>;
  problems: SelectionProblem[];
}
