/**
 * All sandbox state: grants (with the calendars their provider has), their event indexes and
 * mailboxes. Lookups are by id or lowercase email; nothing here scans all grants per request.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { ApiError, badRequest, notFound } from "./errors.js";
import { CalendarIndex, isAllDay, whenRange, type IndexedEvent } from "./events.js";
import { PROVIDER_LABEL, profileOf } from "./providers.js";
import { fullScopes, isScopeList } from "./scopes.js";
import { isValidZone } from "./tz.js";
import {
  PROVIDERS,
  type ExpectedAnnotation,
  type GrantStatus,
  type MessageRecord,
  type Provider,
  type WireCalendar,
  type WireEvent,
  type WireGrant,
} from "./types.js";
import {
  isEmail,
  isObject,
  optString,
  parseEventStatus,
  parseExpected,
  parseParticipants,
  parseWhen,
} from "./validate.js";

/** The zone the worker falls back to when a calendar has none (its DEFAULT_TIME_ZONE). */
export const FALLBACK_ZONE = "UTC";

export interface CalendarState {
  wire: WireCalendar;
  index: CalendarIndex;
}

export interface GrantState {
  grant: WireGrant;
  /**
   * The calendar holding the user's events: the primary one, or for iCloud (which has no
   * `primary`) the user's own writable calendar; "" for IMAP, which has no calendars.
   */
  primaryCalendarId: string;
  calendars: Map<string, CalendarState>;
  /** Sent (and any other) messages in arrival order; listed newest first. */
  messages: MessageRecord[];
  messagesById: Map<string, MessageRecord>;
  /**
   * The user's true local zone: seeded events and the `expected` annotations use it, whatever
   * the calendar exposes (only Google and virtual calendars expose a `timezone`).
   */
  zone: string;
  /** Sandbox-clock ms until which GET /v3/grants still reports an invalidated grant as valid. */
  reportValidUntil?: number;
  /** Meanwhile, the `updated_at` it reports: the record as it was before (a stale read). */
  reportUpdatedAt?: number;
}

export interface GrantInput {
  id?: string;
  email: string;
  provider?: Provider;
  grant_status?: GrantStatus;
  /**
   * The user's true local zone; Google and virtual calendars also expose it as the calendar's
   * `timezone`. null/"" = no zone at all: the day is UTC and no calendar shows a zone. Default UTC.
   */
  timezone?: string | null;
  /** OAuth scopes (default: the provider's full set, see scopes.ts). */
  scope?: string[];
  created_at?: number;
  /** The user's calendar id (default derived from the grant id). */
  calendar_id?: string;
}

export interface EventInput {
  id?: string;
  calendar_id?: string;
  title?: string;
  description?: string | null;
  location?: string | null;
  when: unknown;
  participants?: unknown;
  organizer?: { email: string; name?: string };
  busy?: boolean;
  status?: string;
  conferencing?: { provider: string; details: { url: string } };
  recurrence?: string[];
  /** The same meeting on several calendars (default: derived from the id). */
  ical_uid?: string;
  /** Not supported for iCloud events (spec): ignored there. */
  hide_participants?: boolean;
  /** Not supported for iCloud events (spec): ignored there. */
  visibility?: "public" | "private" | null;
  /**
   * Server-side only: what the seed says about this event (see ExpectedAnnotation). Facts
   * left out are read off the event: `organizer` from its organiser's email, `external` from
   * the recipients' domains against the user's.
   */
  expected?: ExpectedAnnotation | null;
}

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuv";
export function eventId(rand: () => number = Math.random): string {
  let s = "";
  for (let i = 0; i < 26; i++) s += ID_ALPHABET[Math.floor(rand() * 32)];
  return s;
}

export class SandboxStore {
  readonly grants = new Map<string, GrantState>();
  /** Creation order, for GET /v3/grants paging. */
  readonly grantOrder: GrantState[] = [];
  private readonly byEmail = new Map<string, GrantState>();
  /**
   * For each iCalendar UID given to addEvent, the grants that were given an event with it: the
   * same meeting on several calendars. A hint (deleted events stay listed): callers look again.
   */
  readonly icalHolders = new Map<string, Set<string>>();
  /** Bumped on every grant change, so sorted grant listings can be cached. */
  version = 0;
  /**
   * How long (ms, sandbox clock) GET /v3/grants and /v3/grants/{id} keep reporting an
   * invalidated grant as `valid`, while its data routes already answer 401.
   */
  grantStatusLagMs = 0;

  constructor(readonly now: () => number = Date.now) {}

  reset(): void {
    this.grants.clear();
    this.grantOrder.length = 0;
    this.byEmail.clear();
    this.icalHolders.clear();
    this.version++;
  }

  nowSec(): number {
    return Math.floor(this.now() / 1000);
  }

  getGrant(id: string): GrantState | undefined {
    return this.grants.get(id);
  }

  requireGrant(id: string): GrantState {
    const g = this.grants.get(id);
    if (!g) throw notFound(`grant ${id} not found`);
    return g;
  }

  grantByEmail(email: string): GrantState | undefined {
    return this.byEmail.get(email.toLowerCase());
  }

  addGrant(input: GrantInput): GrantState {
    if (!isObject(input)) throw badRequest("grant must be an object");
    if (!isEmail(input.email)) throw badRequest("email must be an email address");
    const provider = input.provider ?? "google";
    if (!PROVIDERS.includes(provider)) throw badRequest(`provider must be one of ${PROVIDERS.join(", ")}`);
    const status = input.grant_status ?? "valid";
    if (status !== "valid" && status !== "invalid") throw badRequest("grant_status must be valid or invalid");
    if (input.scope !== undefined && !isScopeList(input.scope))
      throw badRequest("scope must be an array of scope strings (no spaces), at most 100");
    const tz = input.timezone === undefined ? "UTC" : input.timezone;
    if (tz !== null && tz !== "" && !isValidZone(tz))
      throw badRequest("timezone must be an IANA zone, or null for none");
    const id = input.id ?? randomUUID();
    if (typeof id !== "string" || !/^[A-Za-z0-9._-]{1,100}$/.test(id))
      throw badRequest("id must be 1-100 characters of [A-Za-z0-9._-]");
    if (this.grants.has(id)) throw new ApiError(409, "conflict", `grant ${id} already exists`);
    if (this.byEmail.has(input.email.toLowerCase()))
      throw new ApiError(409, "conflict", `a grant for ${input.email} already exists`);
    const at = input.created_at ?? this.nowSec();
    const grant: WireGrant = {
      id,
      provider,
      grant_status: status,
      email: input.email,
      scope: input.scope ? [...input.scope] : fullScopes(provider),
      created_at: at,
      updated_at: at,
    };
    const zone = tz ? tz : FALLBACK_ZONE;
    const calendars = providerCalendars(provider, id, input.email, input.calendar_id, tz || undefined, zone);
    const state: GrantState = {
      grant,
      primaryCalendarId: calendars[0]?.wire.id ?? "",
      calendars: new Map(calendars.map((c) => [c.wire.id, c])),
      messages: [],
      messagesById: new Map(),
      zone,
    };
    this.grants.set(id, state);
    this.grantOrder.push(state);
    this.byEmail.set(input.email.toLowerCase(), state);
    this.version++;
    return state;
  }

  /**
   * Invalidating a valid grant starts the status lag: its data routes answer 401 at once, but
   * the grant routes report `valid` until `grantStatusLagMs` has passed. Restoring ends it.
   */
  setGrantStatus(id: string, status: GrantStatus): WireGrant {
    const g = this.requireGrant(id);
    if (status === "invalid" && g.grant.grant_status === "valid" && this.grantStatusLagMs > 0) {
      g.reportValidUntil = this.now() + this.grantStatusLagMs;
      g.reportUpdatedAt = g.grant.updated_at;
    } else if (status === "valid") delete g.reportValidUntil;
    g.grant.grant_status = status;
    g.grant.updated_at = this.nowSec();
    this.version++;
    return { ...g.grant };
  }

  /** Forgets a grant and everything in it (Nylas' Delete Grant). */
  deleteGrant(id: string): WireGrant {
    const g = this.requireGrant(id);
    this.grants.delete(id);
    this.grantOrder.splice(this.grantOrder.indexOf(g), 1);
    this.byEmail.delete(g.grant.email.toLowerCase());
    this.version++;
    return { ...g.grant };
  }

  /** The grant as GET /v3/grants and /v3/grants/{id} show it now (status lag included). */
  reportedGrant(g: GrantState): WireGrant {
    const w = { ...g.grant };
    if (g.reportValidUntil !== undefined) {
      if (this.now() < g.reportValidUntil) {
        w.grant_status = "valid";
        w.updated_at = g.reportUpdatedAt ?? w.updated_at;
      } else delete g.reportValidUntil;
    }
    return w;
  }

  setGrantStatusLag(ms: unknown): number {
    if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > 86_400_000)
      throw badRequest("grant status lag must be whole milliseconds between 0 and 86400000");
    this.grantStatusLagMs = ms;
    return ms;
  }

  setGrantScope(id: string, scope: unknown): WireGrant {
    const g = this.requireGrant(id);
    if (!isScopeList(scope)) throw badRequest("scope must be an array of scope strings (no spaces), at most 100");
    g.grant.scope = [...scope];
    g.grant.updated_at = Math.max(this.nowSec(), g.grant.updated_at);
    this.version++;
    return { ...g.grant };
  }

  /**
   * Lenient lookup for the control API and seeding: `primary` → the user's calendar, for
   * iCloud too. The Nylas routes use `apiCalendar`, which follows the provider.
   */
  calendar(g: GrantState, calendarId: string): CalendarState | undefined {
    return g.calendars.get(calendarId === "primary" ? g.primaryCalendarId : calendarId);
  }

  /**
   * A calendar as the Nylas routes see it: 400 for IMAP ("Not supported for IMAP"), 404 for
   * `primary` on iCloud ("For iCloud, there is no `primary` calendar") or an unknown id.
   */
  apiCalendar(g: GrantState, calendarId: string): CalendarState {
    requireCalendars(g);
    const p = profileOf(g.grant.provider);
    if (calendarId === "primary" && !p.primaryCalendar)
      throw notFound(`calendar primary not found: ${PROVIDER_LABEL[g.grant.provider]} has no primary calendar`);
    const cal = this.calendar(g, calendarId);
    if (!cal) throw notFound(`calendar ${calendarId} not found`);
    return cal;
  }

  addEvent(grantId: string, input: EventInput, rand?: () => number): WireEvent {
    const g = this.requireGrant(grantId);
    if (!isObject(input)) throw badRequest("event must be an object");
    requireCalendars(g);
    const cal = this.calendar(g, input.calendar_id ?? "primary");
    if (!cal) throw notFound(`calendar ${input.calendar_id} not found`);
    const id = input.id ?? eventId(rand);
    if (typeof id !== "string" || id.length === 0 || id.length > 200) throw badRequest("id must be a non-empty string");
    if (cal.index.byId.has(id)) throw new ApiError(409, "conflict", `event ${id} already exists`);
    const now = this.nowSec();
    const ev: WireEvent = {
      id,
      object: "event",
      grant_id: g.grant.id,
      calendar_id: cal.wire.id,
      title: optString(input.title, "title") ?? "(no title)",
      description: input.description === null ? null : (optString(input.description, "description") ?? null),
      location: input.location === null ? null : (optString(input.location, "location") ?? null),
      when: parseWhen(input.when),
      participants: parseParticipants(input.participants),
      organizer: parseOrganizer(input.organizer, g),
      busy: input.busy ?? true,
      status: parseEventStatus(input.status),
      ical_uid: parseIcalUid(input.ical_uid) ?? `${id}@sandbox.nylas`,
      read_only: false,
      created_at: now,
      updated_at: now,
    };
    if (typeof ev.busy !== "boolean") throw badRequest("busy must be a boolean");
    if (g.grant.provider !== "icloud") {
      if (input.hide_participants !== undefined) {
        if (typeof input.hide_participants !== "boolean") throw badRequest("hide_participants must be a boolean");
        ev.hide_participants = input.hide_participants;
      }
      if (input.visibility !== undefined && input.visibility !== null) {
        if (input.visibility !== "public" && input.visibility !== "private")
          throw badRequest("visibility must be public or private");
        ev.visibility = input.visibility;
      }
    }
    if (input.conferencing !== undefined) ev.conferencing = parseConferencing(input.conferencing);
    if (input.recurrence !== undefined) {
      if (!Array.isArray(input.recurrence) || !input.recurrence.every((r) => typeof r === "string"))
        throw badRequest("recurrence must be an array of strings");
      if (input.recurrence.length > 0) ev.recurrence = [...input.recurrence];
    }
    const rec: IndexedEvent = { ev, ...whenRange(ev.when, cal.index.zone) };
    const expected = parseExpected(input.expected);
    if (expected) rec.expected = withFacts(expected, ev, g);
    try {
      cal.index.insert(rec);
    } catch (err) {
      cal.index.byId.delete(id);
      throw badRequest(`recurrence: ${(err as Error).message}`);
    }
    if (input.ical_uid !== undefined) {
      const holders = this.icalHolders.get(ev.ical_uid) ?? new Set<string>();
      holders.add(g.grant.id);
      this.icalHolders.set(ev.ical_uid, holders);
    }
    return ev;
  }

  findEvent(grantId: string, id: string): { cal: CalendarState; rec: IndexedEvent } | undefined {
    const g = this.requireGrant(grantId);
    for (const cal of g.calendars.values()) {
      const rec = cal.index.byId.get(id);
      if (rec) return { cal, rec };
    }
    return undefined;
  }

  /**
   * Changes an event in place (re-indexed when its time changes). A seed annotation survives
   * a pure move (timed → timed) or a title/description change; any change to participants,
   * status, all-day-ness or recurrence drops it unless the patch brings a new `expected`.
   */
  updateEvent(grantId: string, id: string, patch: Partial<EventInput>): WireEvent {
    if (!isObject(patch)) throw badRequest("patch must be an object");
    const found = this.findEvent(grantId, id);
    if (!found) throw notFound(`event ${id} not found`);
    const { cal, rec } = found;
    const ev: WireEvent = { ...rec.ev };
    let keepExpected = true;
    if (patch.title !== undefined) ev.title = optString(patch.title, "title") ?? ev.title;
    if (patch.description !== undefined)
      ev.description = patch.description === null ? null : (optString(patch.description, "description") ?? null);
    if (patch.location !== undefined)
      ev.location = patch.location === null ? null : (optString(patch.location, "location") ?? null);
    if (patch.when !== undefined) {
      ev.when = parseWhen(patch.when);
      if (isAllDay(ev.when) !== isAllDay(rec.ev.when)) keepExpected = false;
    }
    if (patch.participants !== undefined) {
      ev.participants = parseParticipants(patch.participants);
      keepExpected = false;
    }
    if (patch.status !== undefined) {
      ev.status = parseEventStatus(patch.status);
      if (ev.status !== rec.ev.status) keepExpected = false;
    }
    if (patch.busy !== undefined) {
      if (typeof patch.busy !== "boolean") throw badRequest("busy must be a boolean");
      ev.busy = patch.busy;
    }
    if (patch.organizer !== undefined) ev.organizer = parseOrganizer(patch.organizer, this.requireGrant(grantId));
    if (patch.conferencing !== undefined) ev.conferencing = parseConferencing(patch.conferencing);
    if (patch.recurrence !== undefined) {
      if (!Array.isArray(patch.recurrence) || !patch.recurrence.every((r) => typeof r === "string"))
        throw badRequest("recurrence must be an array of strings");
      if (patch.recurrence.length > 0) ev.recurrence = [...patch.recurrence];
      else delete ev.recurrence;
      keepExpected = false;
    }
    ev.updated_at = Math.max(this.nowSec(), rec.ev.updated_at);
    const next: IndexedEvent = { ev, ...whenRange(ev.when, cal.index.zone) };
    const given = patch.expected !== undefined ? parseExpected(patch.expected) : undefined;
    const expected = given
      ? withFacts(given, ev, this.requireGrant(grantId))
      : patch.expected === undefined && keepExpected
        ? rec.expected
        : undefined;
    if (expected) next.expected = expected;
    cal.index.remove(id);
    try {
      cal.index.insert(next);
    } catch (err) {
      cal.index.byId.delete(id);
      cal.index.insert(rec);
      throw badRequest(`recurrence: ${(err as Error).message}`);
    }
    return ev;
  }

  /** Moves a timed event to a new start (keeping its duration): "the meeting moved". */
  moveEvent(grantId: string, id: string, newStartSec: number): WireEvent {
    const found = this.findEvent(grantId, id);
    if (!found) throw notFound(`event ${id} not found`);
    const w = found.rec.ev.when;
    if (w.object === "timespan") {
      return this.updateEvent(grantId, id, {
        when: { ...w, start_time: newStartSec, end_time: newStartSec + (w.end_time - w.start_time) },
      });
    }
    if (w.object === "time") return this.updateEvent(grantId, id, { when: { ...w, time: newStartSec } });
    throw badRequest("only timed events can be moved by start time");
  }

  deleteEvent(grantId: string, id: string): void {
    const found = this.findEvent(grantId, id);
    if (!found) throw notFound(`event ${id} not found`);
    found.cal.index.remove(id);
  }

  /**
   * Creates the grant for an email on first sign-in; re-authentication returns the same grant,
   * valid again, with the scopes this sign-in asked for (the full set when it asked for none).
   */
  upsertGrantByEmail(
    email: string,
    provider: Provider,
    scope: string[] | undefined,
  ): { state: GrantState; created: boolean } {
    const existing = this.grantByEmail(email);
    if (existing) {
      existing.grant.grant_status = "valid";
      delete existing.reportValidUntil;
      existing.grant.scope = scope ? [...scope] : fullScopes(existing.grant.provider);
      existing.grant.updated_at = Math.max(this.nowSec(), existing.grant.updated_at);
      this.version++;
      return { state: existing, created: false };
    }
    const input: GrantInput = { email, provider, timezone: "UTC" };
    if (scope) input.scope = scope;
    return { state: this.addGrant(input), created: true };
  }

  totalEvents(): number {
    let n = 0;
    for (const g of this.grantOrder) for (const c of g.calendars.values()) n += c.index.size;
    return n;
  }
}

const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1).toLowerCase();

/** An annotation's facts, where its author left them out, read off the event as stored. */
function withFacts(a: ExpectedAnnotation, ev: WireEvent, g: GrantState): ExpectedAnnotation {
  const user = g.grant.email.toLowerCase();
  const organizer = a.organizer ?? (ev.organizer.email.toLowerCase() === user ? "user" : "other");
  const external = a.external ?? a.recipients.some((r) => domainOf(r) !== domainOf(user));
  return { ...a, organizer, external };
}

function parseIcalUid(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > 1024)
    throw badRequest("ical_uid must be a non-empty string");
  return v;
}

function parseOrganizer(v: unknown, g: GrantState): { email: string; name?: string } {
  if (v === undefined || v === null) return { email: g.grant.email };
  if (!isObject(v) || !isEmail(v.email)) throw badRequest("organizer must be {email, name?}");
  const out: { email: string; name?: string } = { email: v.email };
  const name = optString(v.name, "organizer.name");
  if (name !== undefined) out.name = name;
  return out;
}

function parseConferencing(v: unknown): { provider: string; details: { url: string } } {
  if (!isObject(v) || typeof v.provider !== "string" || !isObject(v.details) || typeof v.details.url !== "string") {
    throw badRequest("conferencing must be {provider, details: {url}}");
  }
  return { provider: v.provider, details: { url: v.details.url } };
}

/** The provider's full scope set (see scopes.ts). */
export const defaultScopes = fullScopes;

/** 400 on the calendar routes of a provider without calendars (IMAP). */
export function requireCalendars(g: GrantState): void {
  if (!profileOf(g.grant.provider).calendars)
    throw badRequest(`calendars are not supported for ${PROVIDER_LABEL[g.grant.provider]} grants`);
}

function opaque(text: string, prefix = ""): string {
  return prefix + createHash("sha256").update(text).digest("base64url").slice(0, 40);
}

/**
 * The calendars a new grant has, the user's own first: Google's is named and identified by the
 * email; Microsoft's and EWS' carry Graph-like opaque ids; iCloud has no primary, only the
 * user's writable calendar and a subscribed read-only one; IMAP has none. `timezone` is set
 * only where the provider exposes one (Google, virtual calendars) and the grant has a zone.
 */
function providerCalendars(
  provider: Provider,
  grantId: string,
  email: string,
  calendarId: string | undefined,
  tz: string | undefined,
  zone: string,
): CalendarState[] {
  const p = profileOf(provider);
  if (!p.calendars) return [];
  const graphLike = provider === "microsoft" || provider === "ews";
  const id =
    calendarId ??
    (provider === "google"
      ? email
      : graphLike
        ? `${opaque(`${grantId}/calendar`, "AAMkA")}AAA=`
        : provider === "icloud"
          ? opaque(`${grantId}/home`).toUpperCase().replace(/[-_]/g, "0")
          : `cal_${grantId.replace(/-/g, "").slice(0, 20)}`);
  const wire: WireCalendar = {
    id,
    grant_id: grantId,
    name: provider === "google" ? email : provider === "icloud" ? "Home" : "Calendar",
    object: "calendar",
    is_primary: p.primaryCalendar,
    is_owned_by_user: true,
    read_only: false,
    hex_color: "#039BE5",
    description: null,
  };
  if (provider === "icloud" || provider === "ews") {
    delete wire.hex_color;
    delete wire.description;
  }
  if (tz && p.calendarTimezone) wire.timezone = tz;
  const out: CalendarState[] = [{ wire, index: new CalendarIndex(id, zone) }];
  if (provider === "icloud") {
    const hid = opaque(`${grantId}/holidays`).toUpperCase().replace(/[-_]/g, "1");
    out.push({
      wire: {
        id: hid,
        grant_id: grantId,
        name: "US Holidays",
        object: "calendar",
        is_primary: false,
        is_owned_by_user: false,
        read_only: true,
      },
      index: new CalendarIndex(hid, zone),
    });
  }
  return out;
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}
