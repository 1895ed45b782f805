/**
 * Deterministic seed data (the same seed gives the same world). Every seeded event carries,
 * by construction, an `expected` annotation (kept server-side): the base verdict, whether it
 * deserves a reminder on the local day it starts and to whom,
 *   remind for local day D the events that START in [D 00:00, D+1 00:00) in the user's true
 *   zone (GrantState.zone, whether or not the calendar exposes it),
 *   not cancelled, not all-day, not declined by the user, with ≥1 other participant who has
 *   not declined; recipients = the other non-declined participants, deduplicated
 *   case-insensitively. Each occurrence of a recurring event counts;
 * and the facts the grant's settings decide on: who organises it (the user or another),
 * whether a recipient is outside the user's domain, private, hidden guests (one message per
 * recipient). expected.ts turns these into decisions under a policy per grant, so tests
 * compare the sent log with `expectedReminders()` instead of re-implementing the rules.
 *
 * Each user with a calendar has every seeded day: a team sync, declined, cancelled, partly and
 * wholly declined meetings, focus time alone, an all-hands they organise for 50 (too many
 * recipients), case duplicates, a point in time, all-day ones, a late call past midnight, an
 * interview they organise unlisted, a partner briefing and a 300-person all-hands they only
 * attend (in the organiser's zone), a committee of 30 guests, a private 1:1, a panel with
 * hidden guests, a retro with only same-domain guests; plus three recurring series. Then each
 * grant with a calendar organises a meeting a day with the next such grant's user, and the
 * same event (same ical_uid) is on that colleague's calendar too: one reminder per person.
 */
import { eventId, type GrantState, type SandboxStore } from "./store.js";
import { addDays, localDate, localDateTime } from "./tz.js";
import type { BaseSkipReason, ExpectedAnnotation, Participant, Provider, When, WireEvent } from "./types.js";
import { mulberry32 } from "./random.js";

export { mulberry32 };
export {
  expectedDecisions,
  expectedReminders,
  DEFAULT_MAX_RECIPIENTS,
  DEFAULT_MIN_LEAD_MINUTES,
  type ExpectedDecision,
  type ExpectedOptions,
  type ExpectedReminder,
  type Suppression,
} from "./expected.js";

function uuidFrom(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  const variant = "89ab"[Math.floor(rand() * 4)];
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `4${hex.slice(13, 16)}`,
    `${variant}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join("-");
}

/**
 * The users' true local zones, in rotation by seed position (one UTC among them). Google
 * calendars expose the zone as `timezone`; Microsoft and iCloud calendars do not, so there the
 * zone shows only in the `when` of the events the user organises.
 */
export const SEED_ZONES: readonly string[] = [
  "America/New_York",
  "Europe/London",
  "Australia/Sydney",
  "America/Santiago",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Australia/Adelaide",
  "Australia/Eucla",
  "Asia/Tehran",
  "America/St_Johns",
  "Pacific/Chatham",
  "Europe/Paris",
  "UTC",
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
  "Europe/Berlin",
  "America/Los_Angeles",
  "Asia/Tokyo",
  "America/Sao_Paulo",
  "Africa/Lagos",
  "America/Chicago",
];

/**
 * Providers by seed position, in a cycle of 12: 5 Microsoft, 4 Google, 2 iCloud, 1 IMAP, so
 * that every prefix of two or more grants is at least a third Microsoft, and position 0 is
 * Google. Position 9 of each cycle (Google) is seeded needing re-authentication.
 */
export const SEED_PROVIDERS: readonly Provider[] = [
  "google",
  "microsoft",
  "google",
  "microsoft",
  "icloud",
  "microsoft",
  "google",
  "imap",
  "microsoft",
  "google",
  "microsoft",
  "icloud",
];

const FIRST = [
  "ada",
  "grace",
  "alan",
  "linus",
  "barbara",
  "ken",
  "margaret",
  "dennis",
  "radia",
  "edsger",
  "frances",
  "john",
  "katherine",
  "tim",
  "shafi",
];
const LAST = [
  "lovelace",
  "hopper",
  "turing",
  "torvalds",
  "liskov",
  "thompson",
  "hamilton",
  "ritchie",
  "perlman",
  "dijkstra",
  "allen",
  "mccarthy",
  "johnson",
  "lee",
  "goldwasser",
];
const DOMAINS = ["example.com", "contoso.test", "acme.test", "globex.test", "initech.test"];

export interface SeedOptions {
  grants: number;
  seed?: number;
  now?: Date | number;
  /** Local days after today to fill (default 3); yesterday and today are always filled. */
  days?: number;
}

export interface SeedResult {
  grantIds: string[];
  events: number;
}

const sortedLower = (emails: string[]): string[] => [...new Set(emails.map((e) => e.toLowerCase()))].sort();
const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1).toLowerCase();

/** Facts a scenario states about its event beyond the recipients (see ExpectedAnnotation). */
type Facts = Partial<Pick<ExpectedAnnotation, "organizer" | "private" | "individual">>;

export function seed(store: SandboxStore, opts: SeedOptions): SeedResult {
  const n = opts.grants;
  if (!Number.isInteger(n) || n < 0 || n > 100_000) throw new Error("grants must be an integer between 0 and 100000");
  const days = opts.days ?? 3;
  if (!Number.isInteger(days) || days < 0 || days > 60) throw new Error("days must be an integer between 0 and 60");
  const seedNo = opts.seed ?? 1;
  const nowMs = opts.now === undefined ? store.now() : typeof opts.now === "number" ? opts.now : opts.now.getTime();
  if (!Number.isFinite(nowMs)) throw new Error("now must be a valid date");
  const rand = mulberry32(seedNo);
  const grantIds: string[] = [];
  let events = 0;
  const base = store.grantOrder.length;
  const withCalendars: { g: GrantState; k: number }[] = [];
  for (let i = 0; i < n; i++) {
    const k = base + i;
    const zone = SEED_ZONES[k % SEED_ZONES.length]!;
    const provider = SEED_PROVIDERS[k % SEED_PROVIDERS.length]!;
    const invalid = k % SEED_PROVIDERS.length === 9;
    const domain = DOMAINS[k % DOMAINS.length]!;
    const email = `${FIRST[k % FIRST.length]}.${LAST[(k * 7) % LAST.length]}${k}@${domain}`;
    const g = store.addGrant({
      id: uuidFrom(rand),
      email,
      provider,
      grant_status: invalid ? "invalid" : "valid",
      timezone: zone,
      created_at: Math.floor(nowMs / 1000) - 86_400 * 30 + k,
    });
    grantIds.push(g.grant.id);
    // IMAP has no calendars: no events, nothing expected.
    if (g.calendars.size > 0) {
      events += seedGrantEvents(store, g, k, nowMs, days, rand);
      withCalendars.push({ g, k });
    }
  }
  // After every grant exists (and after their own draws, which keep their order): each
  // grant with a calendar shares a meeting with the next one.
  for (let i = 0; i + 1 < withCalendars.length; i++)
    events += seedShared(store, withCalendars[i]!, withCalendars[i + 1]!, nowMs, days, rand);
  return { grantIds, events };
}

/**
 * Guest j of the grant at position k: never of the user's own domain (DOMAINS[k % 5]), so that
 * every meeting with guests is external but the one built to be internal ("Team retro").
 */
function guest(rand: () => number, k: number, j: number): { email: string; name: string } {
  const f = FIRST[Math.floor(rand() * FIRST.length)]!;
  const l = LAST[Math.floor(rand() * LAST.length)]!;
  const email = `${f}.${l}.${k}.${j}@${DOMAINS[(k + 1 + (j % (DOMAINS.length - 1))) % DOMAINS.length]}`;
  return { email, name: `${f[0]!.toUpperCase()}${f.slice(1)} ${l[0]!.toUpperCase()}${l.slice(1)}` };
}

type Guest = { email: string; name: string };

/** A seeded event as a scenario describes it; `GrantSeeder.add` fills in the rest. */
interface ScenarioEvent {
  title: string;
  when: When;
  participants: Participant[];
  expected: ExpectedAnnotation;
  status?: WireEvent["status"];
  recurrence?: string[];
  organizer?: { email: string; name?: string };
  ical_uid?: string;
  visibility?: "private";
  hide_participants?: true;
}

/**
 * One grant being seeded: its zone, its user, and the seed's random stream, which it shares
 * with the grants before and after it. Each draw happens in the order the scenarios run, so
 * the same seed gives the same ids, guests and statuses.
 */
class GrantSeeder {
  /** The user's true zone: every event the user organises carries it in its `when`. */
  readonly zone: string;
  readonly user: string;
  readonly today: string;
  /** Events added so far. */
  count = 0;
  private guestNo = 0;
  private readonly store: SandboxStore;
  private readonly g: GrantState;
  /** The grant's position in the store: it numbers the grant's guests and attendees. */
  readonly k: number;
  readonly rand: () => number;

  /** iCloud events keep neither visibility nor hide_participants (the store drops them, as the spec says). */
  readonly keepsFlags: boolean;

  /** `firstGuest` numbers this seeder's guests, so that a second pass over a grant never repeats one. */
  constructor(store: SandboxStore, g: GrantState, k: number, nowMs: number, rand: () => number, firstGuest = 0) {
    this.store = store;
    this.g = g;
    this.k = k;
    this.rand = rand;
    this.zone = g.zone;
    this.user = g.grant.email;
    this.today = localDate(this.zone, nowMs);
    this.keepsFlags = g.grant.provider !== "icloud";
    this.guestNo = firstGuest;
  }

  /** Whether one of these (lowercase) recipients has another domain than the user. */
  private external(recipients: string[]): boolean {
    const mine = domainOf(this.user);
    return recipients.some((r) => domainOf(r) !== mine);
  }

  /** Deserves a reminder as far as the base rules go; the user organises it unless `facts` say not. */
  yes(recipients: string[], facts: Facts = {}): ExpectedAnnotation {
    const r = sortedLower(recipients);
    return { remind: true, recipients: r, organizer: "user", external: this.external(r), ...facts };
  }

  /** Skipped by a base rule; `invited` are the other guests, for the `external` fact. */
  no(reason: BaseSkipReason, invited: { email: string }[], facts: Facts = {}): ExpectedAnnotation {
    const external = this.external(sortedLower(invited.map((i) => i.email)));
    return { remind: false, recipients: [], reason, organizer: "user", external, ...facts };
  }

  /** `m` new guests, numbered across the whole grant so their addresses never repeat. */
  guests(m: number): Guest[] {
    return Array.from({ length: m }, () => guest(this.rand, this.k, this.guestNo++));
  }

  /** A random answer that is not a decline. */
  statusOf(): "yes" | "noreply" | "maybe" {
    return (["yes", "noreply", "maybe"] as const)[Math.floor(this.rand() * 3)]!;
  }

  /**
   * A timespan starting at `hh:mm` user-local time on `day`, carrying `zone` (default the
   * user's) as its start and end zone, as the organiser's calendar wrote it.
   */
  timed(day: string, hh: number, mm: number, minutes: number, zone = this.zone): When {
    const s = Math.floor(localDateTime(this.zone, day, hh, mm) / 1000);
    return { object: "timespan", start_time: s, end_time: s + minutes * 60, start_timezone: zone, end_timezone: zone };
  }

  /** A zone other than the user's, for a meeting someone else organises. */
  otherZone(): string {
    const pick = SEED_ZONES[Math.floor(this.rand() * SEED_ZONES.length)]!;
    return pick !== this.zone ? pick : this.zone === "Asia/Tokyo" ? "Europe/Madrid" : "Asia/Tokyo";
  }

  me(status: Participant["status"] = "yes", email = this.user): Participant {
    return { email, status, name: "Me" };
  }

  /**
   * Adds the event to this grant's calendar; with `copy`, the same event (same ical_uid,
   * time, participants, organiser, everything) to a colleague's calendar too.
   */
  add(e: ScenarioEvent, copy?: { to: GrantSeeder; expected: ExpectedAnnotation }): void {
    const input: Parameters<SandboxStore["addEvent"]>[1] = {
      title: e.title,
      when: e.when,
      participants: e.participants,
      expected: e.expected,
      description: `Seeded: ${e.title}`,
      location: this.rand() < 0.5 ? "Room 4" : null,
      conferencing: {
        provider: "Google Meet",
        details: { url: `https://meet.example.com/${eventId(this.rand).slice(0, 10)}` },
      },
    };
    if (e.status) input.status = e.status;
    if (e.recurrence) input.recurrence = e.recurrence;
    if (e.organizer) input.organizer = e.organizer;
    if (e.ical_uid) input.ical_uid = e.ical_uid;
    if (e.visibility) input.visibility = e.visibility;
    if (e.hide_participants) input.hide_participants = e.hide_participants;
    this.store.addEvent(this.g.grant.id, input, this.rand);
    this.count++;
    if (copy) {
      this.store.addEvent(copy.to.g.grant.id, { ...input, expected: copy.expected }, this.rand);
      copy.to.count++;
    }
  }
}

/** An ordinary meeting: the user plus 2–5 others in mixed (non-declined) states. */
function seedTeamSync(s: GrantSeeder, day: string): void {
  const others = s.guests(2 + Math.floor(s.rand() * 4));
  s.add({
    title: "Team sync",
    when: s.timed(day, 9, 0, 30),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: s.statusOf() }))],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** The user declined. */
function seedUserDeclined(s: GrantSeeder, day: string): void {
  const others = s.guests(2);
  s.add({
    title: "Design review (declined)",
    when: s.timed(day, 10, 0, 60),
    participants: [s.me("no"), ...others.map((o) => ({ ...o, status: "yes" as const }))],
    expected: s.no("user_declined", others),
  });
}

function seedCancelled(s: GrantSeeder, day: string): void {
  const others = s.guests(1);
  s.add({
    title: "Cancelled 1:1",
    when: s.timed(day, 10, 30, 30),
    participants: [s.me(), { ...others[0]!, status: "yes" }],
    status: "cancelled",
    expected: s.no("cancelled", others),
  });
}

/** One participant declined: the others still get it. */
function seedOneDeclined(s: GrantSeeder, day: string): void {
  const [declined, a, b] = s.guests(3) as [Guest, Guest, Guest];
  s.add({
    title: "Planning (one declined)",
    when: s.timed(day, 11, 0, 45),
    participants: [s.me(), { ...declined, status: "no" }, { ...a, status: "yes" }, { ...b, status: "noreply" }],
    expected: s.yes([a.email, b.email]),
  });
}

/** Every other participant declined. */
function seedAllOthersDeclined(s: GrantSeeder, day: string): void {
  const others = s.guests(2);
  s.add({
    title: "Client call (all declined)",
    when: s.timed(day, 12, 0, 30),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "no" as const }))],
    expected: s.no("all_others_declined", others),
  });
}

/** Solo: only the user (or nobody) is listed. */
function seedSolo(s: GrantSeeder, day: string, d: number): void {
  s.add({
    title: "Focus time",
    when: s.timed(day, 13, 0, 60),
    participants: d % 2 === 0 ? [s.me()] : [],
    expected: s.no("no_other_participants", []),
  });
}

/** A big meeting: 50 others. */
function seedAllHands(s: GrantSeeder, day: string): void {
  const others = Array.from({ length: 50 }, (_, j) => ({
    email: `attendee${j}.g${s.k}@bigco.test`,
    status: (j % 7 === 0 ? "maybe" : "noreply") as Participant["status"],
  }));
  s.add({
    title: "All hands",
    when: s.timed(day, 14, 0, 60),
    participants: [s.me(), ...others],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** Duplicates in different case, and the user's own address in another case. */
function seedDuplicates(s: GrantSeeder, day: string): void {
  const [a, b] = s.guests(2) as [Guest, Guest];
  s.add({
    title: "Duplicates",
    when: s.timed(day, 15, 0, 30),
    participants: [
      { ...a, status: "yes" },
      { email: a.email.toUpperCase(), status: "noreply" },
      s.me("yes", s.user.toUpperCase()),
      { ...b, status: "maybe" },
      { email: b.email.replace(/^./, (c) => c.toUpperCase()), status: "yes" },
    ],
    expected: s.yes([a.email, b.email]),
  });
}

/** A point-in-time event (`when.object = time`): timed, so it counts. */
function seedPointInTime(s: GrantSeeder, day: string): void {
  const [a] = s.guests(1) as [Guest];
  const t = Math.floor(localDateTime(s.zone, day, 16, 0) / 1000);
  const w: When = { object: "time", time: t, timezone: s.zone };
  s.add({
    title: "Deadline check-in",
    when: w,
    participants: [s.me(), { ...a, status: "noreply" }],
    expected: s.yes([a.email]),
  });
}

/** A one-day all-day event with a guest: being all-day is the only reason to skip it. */
function seedAllDay(s: GrantSeeder, day: string): void {
  const [a] = s.guests(1) as [Guest];
  s.add({
    title: "Offsite (all day)",
    when: { object: "date", date: day },
    participants: [s.me(), { ...a, status: "yes" }],
    expected: s.no("all_day", [a]),
  });
}

/** A two-day all-day event (`datespan`) with a guest: skipped for being all-day alone. */
function seedTwoDayAllDay(s: GrantSeeder, day: string): void {
  const [b] = s.guests(1) as [Guest];
  s.add({
    title: "Conference (two days)",
    when: { object: "datespan", start_date: day, end_date: addDays(day, 1) },
    participants: [s.me(), { ...b, status: "yes" }],
    expected: s.no("all_day", [b]),
  });
}

/** Starts late in the evening and runs past midnight: it belongs to the day it starts. */
function seedCrossesMidnight(s: GrantSeeder, day: string): void {
  const others = s.guests(2);
  s.add({
    title: "Late call (crosses midnight)",
    when: s.timed(day, 23, 0, 120),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "yes" as const }))],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** The user organises but is not in the participant list. */
function seedOrganiserNotListed(s: GrantSeeder, day: string): void {
  const others = s.guests(2);
  s.add({
    title: "Interview",
    when: s.timed(day, 17, 0, 45),
    participants: others.map((o) => ({ ...o, status: "noreply" as const })),
    organizer: { email: s.user, name: "Me" },
    expected: s.yes(others.map((o) => o.email)),
  });
}

/**
 * A meeting the user only attends, organised by a guest in another zone, early in the user's
 * day: its `when` carries the organiser's zone, not the user's. The organiser is listed (as
 * Google lists organisers), so every reading of "the other participants" gives the same
 * recipients: the organiser and the other guest.
 */
function seedAttended(s: GrantSeeder, day: string): void {
  const [organiser, other] = s.guests(2) as [Guest, Guest];
  const zone = s.otherZone();
  s.add({
    title: "Partner briefing (attending)",
    when: s.timed(day, 7, 30, 30, zone),
    participants: [{ ...organiser, status: "yes" }, s.me(), { ...other, status: s.statusOf() }],
    organizer: { email: organiser.email, name: organiser.name },
    expected: s.yes([organiser.email, other.email], { organizer: "other" }),
  });
}

/**
 * A 300-person all-hands the user only attends: organised by someone else (listed), in
 * another zone, early in the user's day. 299 recipients.
 */
function seedCompanyAllHands(s: GrantSeeder, day: string): void {
  const zone = s.otherZone();
  const host = { email: `ceo.g${s.k}@megacorp.test`, name: "The CEO" };
  const staff = Array.from({ length: 298 }, (_, j) => ({
    email: `staff${j}.g${s.k}@megacorp.test`,
    status: (j % 5 === 0 ? "yes" : "noreply") as Participant["status"],
  }));
  s.add({
    title: "Company all-hands (attending)",
    when: s.timed(day, 7, 45, 60, zone),
    participants: [{ ...host, status: "yes" }, s.me("noreply"), ...staff],
    organizer: host,
    expected: s.yes([host.email, ...staff.map((p) => p.email)], { organizer: "other" }),
  });
}

/** The user organises it for 30 guests: more than the default maximum of 25 recipients. */
function seedSteeringCommittee(s: GrantSeeder, day: string): void {
  const others = s.guests(30);
  s.add({
    title: "Steering committee (30 guests)",
    when: s.timed(day, 14, 30, 60),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: s.statusOf() }))],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** A private event the user organises with guests (iCloud keeps no visibility: there it is ordinary). */
function seedPrivate(s: GrantSeeder, day: string): void {
  const others = s.guests(2);
  s.add({
    title: "Private 1:1",
    when: s.timed(day, 16, 30, 30),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "yes" as const }))],
    visibility: "private",
    expected: s.yes(
      others.map((o) => o.email),
      s.keepsFlags ? { private: true } : {},
    ),
  });
}

/**
 * Guests hidden from each other (hide_participants), 3 of them: reminded one by one, each
 * message to one guest (iCloud keeps no hide_participants: there it is ordinary).
 */
function seedHiddenGuests(s: GrantSeeder, day: string): void {
  const others = s.guests(3);
  s.add({
    title: "Candidate panel (hidden guests)",
    when: s.timed(day, 17, 30, 45),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "noreply" as const }))],
    hide_participants: true,
    expected: s.yes(
      others.map((o) => o.email),
      s.keepsFlags ? { individual: true } : {},
    ),
  });
}

/** Only guests of the user's own domain: internal_only under the `external` policy. */
function seedInternal(s: GrantSeeder, day: string): void {
  const domain = s.user.slice(s.user.lastIndexOf("@") + 1);
  const others = s.guests(2).map((o) => ({ ...o, email: o.email.replace(/@.*$/, `@${domain}`) }));
  s.add({
    title: "Team retro (internal)",
    when: s.timed(day, 12, 30, 45),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "yes" as const }))],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** A daily series that started two days ago and runs past the last seeded day. */
function seedDailyStandUp(s: GrantSeeder, days: number): void {
  const others = s.guests(3);
  s.add({
    title: "Daily stand-up",
    when: s.timed(addDays(s.today, -2), 8, 30, 15),
    participants: [s.me(), ...others.map((o) => ({ ...o, status: "yes" as const }))],
    recurrence: [`RRULE:FREQ=DAILY;COUNT=${days + 6}`],
    expected: s.yes(others.map((o) => o.email)),
  });
}

/** An open-ended weekly series on three weekdays, started a week ago. */
function seedWeeklyOneToOne(s: GrantSeeder): void {
  const [a] = s.guests(1) as [Guest];
  s.add({
    title: "Weekly 1:1",
    when: s.timed(addDays(s.today, -7), 18, 0, 30),
    participants: [s.me(), { ...a, status: "yes" }],
    recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"],
    expected: s.yes([a.email]),
  });
}

/** A daily all-day series: no occurrence deserves a reminder. */
function seedDailyAllDay(s: GrantSeeder): void {
  const [b] = s.guests(1) as [Guest];
  s.add({
    title: "Gym (all-day, daily)",
    when: { object: "date", date: addDays(s.today, -1) },
    participants: [s.me(), { ...b, status: "yes" }],
    recurrence: ["RRULE:FREQ=DAILY;COUNT=5"],
    expected: s.no("all_day", [b]),
  });
}

/**
 * The meetings seeded on every local day, in the order they draw from the random stream:
 * reordering them changes every id and guest after the first one moved.
 */
const DAILY_SCENARIOS: readonly ((s: GrantSeeder, day: string, d: number) => void)[] = [
  seedTeamSync,
  seedUserDeclined,
  seedCancelled,
  seedOneDeclined,
  seedAllOthersDeclined,
  seedSolo,
  seedAllHands,
  seedDuplicates,
  seedPointInTime,
  seedAllDay,
  seedTwoDayAllDay,
  seedCrossesMidnight,
  seedOrganiserNotListed,
  seedAttended,
  // Added with the reminder policies (issue #11): after the others, so earlier draws keep.
  seedCompanyAllHands,
  seedSteeringCommittee,
  seedPrivate,
  seedHiddenGuests,
  seedInternal,
];

/**
 * Recurring series, seeded once per grant after the days, also in random-stream order. Each
 * occurrence counts on the local day it starts.
 */
const RECURRING_SERIES: readonly ((s: GrantSeeder, days: number) => void)[] = [
  seedDailyStandUp,
  seedWeeklyOneToOne,
  seedDailyAllDay,
];

/** Guest numbers of the shared-meeting pass start here, past any grant's own guests. */
const SHARED_FIRST_GUEST = 100_000;

/**
 * Colleagues: the host organises a meeting each seeded day (11:30 their time) with the
 * colleague's user and two guests, and the same event (same ical_uid) is on the colleague's
 * calendar. The host's grant reminds the colleague and the guests; the colleague's grant,
 * attending, reminds it only under `all` and when the host's grant does not (not connected).
 */
function seedShared(
  store: SandboxStore,
  host: { g: GrantState; k: number },
  colleague: { g: GrantState; k: number },
  nowMs: number,
  days: number,
  rand: () => number,
): number {
  const s = new GrantSeeder(store, host.g, host.k, nowMs, rand, SHARED_FIRST_GUEST);
  const c = new GrantSeeder(store, colleague.g, colleague.k, nowMs, rand, SHARED_FIRST_GUEST);
  for (let d = -1; d <= days; d++) {
    const others = s.guests(2);
    const participants: Participant[] = [
      { email: s.user, status: "yes" },
      { email: c.user, status: "yes" },
      ...others.map((o) => ({ ...o, status: s.statusOf() })),
    ];
    s.add(
      {
        title: "Cross-team sync (shared)",
        when: s.timed(addDays(s.today, d), 11, 30, 30),
        participants,
        organizer: { email: s.user },
        ical_uid: `${eventId(rand)}@seed.sandbox`,
        expected: s.yes([c.user, ...others.map((o) => o.email)]),
      },
      { to: c, expected: c.yes([s.user, ...others.map((o) => o.email)], { organizer: "other" }) },
    );
  }
  return s.count + c.count;
}

function seedGrantEvents(
  store: SandboxStore,
  g: GrantState,
  k: number,
  nowMs: number,
  days: number,
  rand: () => number,
): number {
  const s = new GrantSeeder(store, g, k, nowMs, rand);
  for (let d = -1; d <= days; d++) {
    const day = addDays(s.today, d);
    for (const scenario of DAILY_SCENARIOS) scenario(s, day, d);
  }
  for (const series of RECURRING_SERIES) series(s, days);
  return s.count;
}

export interface BulkOptions {
  grants: number;
  meetingsPerGrant?: number;
  now?: Date | number;
  seed?: number;
  provider?: Provider;
  /** Zones in rotation (default: SEED_ZONES). */
  zones?: string[];
}

/**
 * Benchmark data: N grants, each with K meetings tomorrow (local) that all qualify, with two
 * guests each. Events of one grant share their participant and annotation objects to keep
 * memory small (about 0.3 KB per event).
 */
export function seedBulk(store: SandboxStore, opts: BulkOptions): SeedResult {
  const n = opts.grants;
  const k = opts.meetingsPerGrant ?? 8;
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
    throw new Error("grants must be an integer between 0 and 1000000");
  if (!Number.isInteger(k) || k < 0 || k > 96) throw new Error("meetingsPerGrant must be an integer between 0 and 96");
  const nowMs = opts.now === undefined ? store.now() : typeof opts.now === "number" ? opts.now : opts.now.getTime();
  const zones = opts.zones ?? [...SEED_ZONES];
  const rand = mulberry32(opts.seed ?? 7);
  const grantIds: string[] = [];
  const base = store.grantOrder.length;
  const step = k > 0 ? Math.max(5, Math.floor((14 * 60) / k)) : 60;
  const created = Math.floor(nowMs / 1000) - 86_400;
  for (let i = 0; i < n; i++) {
    const gi = base + i;
    const zone = zones[gi % zones.length]!;
    const g = store.addGrant({
      id: uuidFrom(rand),
      email: `bulk${gi}@bulk${gi % 97}.test`,
      provider: opts.provider ?? "google",
      timezone: zone,
      created_at: created,
    });
    grantIds.push(g.grant.id);
    const cal = g.calendars.get(g.primaryCalendarId);
    if (!cal) continue; // IMAP: no calendars
    const a = `guest-a.${gi}@guests.test`;
    const b = `guest-b.${gi}@guests.test`;
    const participants: Participant[] = [
      { email: g.grant.email, status: "yes" },
      { email: a, status: "yes" },
      { email: b, status: "noreply" },
    ];
    const expected: ExpectedAnnotation = { remind: true, recipients: [a, b].sort(), organizer: "user", external: true };
    const organizer = { email: g.grant.email };
    const day = addDays(localDate(zone, nowMs), 1);
    for (let j = 0; j < k; j++) {
      const minutes = 8 * 60 + j * step;
      const s = Math.floor(localDateTime(zone, day, Math.floor(minutes / 60), minutes % 60) / 1000);
      const id = eventId(rand);
      const ev: WireEvent = {
        id,
        object: "event",
        grant_id: g.grant.id,
        calendar_id: cal.wire.id,
        title: `Meeting ${j + 1}`,
        description: null,
        location: null,
        when: { object: "timespan", start_time: s, end_time: s + 1800, start_timezone: zone, end_timezone: zone },
        participants,
        organizer,
        busy: true,
        status: "confirmed",
        ical_uid: `${id}@sandbox.nylas`,
        read_only: false,
        created_at: created,
        updated_at: created,
      };
      cal.index.appendUnsorted({ ev, s, e: s + 1800, expected });
    }
    cal.index.sortSingles();
  }
  return { grantIds, events: n * k };
}
