/** Wire shapes (snake_case, exactly as Nylas v3 sends them) and the sandbox's internal records. */

export type Provider = "google" | "microsoft" | "imap" | "icloud" | "yahoo" | "ews" | "virtual-calendar";
export const PROVIDERS: readonly Provider[] = [
  "google",
  "microsoft",
  "imap",
  "icloud",
  "yahoo",
  "ews",
  "virtual-calendar",
];

export type GrantStatus = "valid" | "invalid";

export interface WireGrant {
  id: string;
  provider: Provider;
  grant_status: GrantStatus;
  email: string;
  scope: string[];
  created_at: number;
  updated_at: number;
  state?: string;
}

export interface WireCalendar {
  id: string;
  grant_id: string;
  name: string;
  object: "calendar";
  is_primary: boolean;
  is_owned_by_user: boolean;
  read_only: boolean;
  /** Not for iCloud or EWS calendars. */
  hex_color?: string;
  /** Not for iCloud or EWS calendars. */
  description?: string | null;
  /** Google and virtual calendars only. */
  timezone?: string;
}

export type When =
  | { object: "time"; time: number; timezone?: string }
  | { object: "timespan"; start_time: number; end_time: number; start_timezone?: string; end_timezone?: string }
  | { object: "date"; date: string }
  | { object: "datespan"; start_date: string; end_date: string };

export type ParticipantStatus = "yes" | "no" | "maybe" | "noreply";

export interface Participant {
  email: string;
  name?: string;
  status: ParticipantStatus;
  comment?: string;
}

export type EventStatus = "confirmed" | "maybe" | "tentative" | "cancelled";

export interface WireEvent {
  id: string;
  object: "event";
  grant_id: string;
  calendar_id: string;
  title: string;
  description: string | null;
  location: string | null;
  when: When;
  participants: Participant[];
  organizer: { email: string; name?: string };
  busy: boolean;
  status: EventStatus;
  conferencing?: { provider: string; details: { url: string } };
  recurrence?: string[];
  master_event_id?: string;
  ical_uid: string;
  /** Absent on iCloud events (not supported there). */
  hide_participants?: boolean;
  /** Absent on iCloud events (not supported there). */
  visibility?: "public" | "private";
  read_only: boolean;
  created_at: number;
  updated_at: number;
}

/** Why a seed event deserves no reminder whatever the grant's settings (the base verdict). */
export type BaseSkipReason =
  "cancelled" | "all_day" | "user_declined" | "no_other_participants" | "all_others_declined";

/** Every reason an expected decision can give, in the order they are checked. */
export type ExpectedReason =
  | BaseSkipReason
  | "private"
  | "not_organizer"
  | "internal_only"
  | "too_many_recipients"
  | "covered_by_other_grant"
  | "opted_out"
  | "started";

/** Whom a grant reminds: meetings the user organises, all, or organised ones with an outside guest. */
export type ReminderPolicy = "organized" | "all" | "external";
export const REMINDER_POLICIES: readonly ReminderPolicy[] = ["organized", "all", "external"];

/**
 * What the seed says, by construction, about an event: the base verdict (whether it deserves
 * a reminder on the local day it starts, to whom, and why not otherwise, before any grant
 * setting), plus the facts the settings decide on. Never sent over the wire.
 */
export interface ExpectedAnnotation {
  remind: boolean;
  /** Sorted, lowercase, deduplicated recipient emails (empty when remind is false). */
  recipients: string[];
  /** Why no reminder (absent when remind is true). */
  reason?: BaseSkipReason;
  /**
   * Whether the grant's user organises it or someone else does. The store fills it in from
   * the event's organiser when an annotation given to addEvent leaves it out; on a record made
   * by hand without it, "user".
   */
  organizer?: "user" | "other";
  /**
   * Whether some recipient's email domain differs from the user's. Left out: read off the
   * recipients (by the store, or when deciding).
   */
  external?: boolean;
  /** Visibility private. */
  private?: true;
  /** hide_participants: the reminder goes to each recipient alone. */
  individual?: true;
  /** Free text for people reading a failing test. */
  note?: string;
}

/** One stored event: the wire object plus the indexing range in epoch seconds. */
export interface EventRecord {
  ev: WireEvent;
  /** Start / end in epoch seconds (for all-day shapes: local midnights in the calendar zone). */
  s: number;
  e: number;
  expected?: ExpectedAnnotation;
}

export interface MessageParticipant {
  name?: string;
  email: string;
}

export interface Header {
  name: string;
  value: string;
}

export interface WireMessage {
  id: string;
  object: "message";
  grant_id: string;
  thread_id: string;
  subject: string;
  body: string;
  snippet: string;
  from: MessageParticipant[];
  to: MessageParticipant[];
  cc: MessageParticipant[];
  bcc: MessageParticipant[];
  reply_to: MessageParticipant[];
  date: number;
  folders: string[];
  unread: boolean;
  starred: boolean;
  attachments: unknown[];
  headers?: Header[];
}

export interface MessageRecord {
  msg: WireMessage;
  /** All headers (standard + custom); only returned with fields=include_headers. */
  headers: Header[];
  /** The custom headers the sender supplied (a subset of `headers`). */
  custom: Header[];
  /** Epoch ms when the sandbox accepted the send (finer than `date`). */
  atMs: number;
}

/** A folder or Google label (spec: components/schemas/folder). Provider-only fields are optional. */
export interface WireFolder {
  id: string;
  grant_id: string;
  object: "folder";
  name: string;
  /** `["\\Sent"]` on the folder of sent mail; empty for a folder with no standard role. */
  attributes: string[];
  total_count: number;
  unread_count: number;
  /** Google only. */
  system_folder?: boolean;
  /** Microsoft and EWS only. */
  parent_id?: string;
  /** Microsoft and EWS only. */
  child_count?: number;
}
