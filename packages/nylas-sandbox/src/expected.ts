/**
 * What a correct worker decides for each annotated event, from the seed's annotations (the
 * base verdict and the facts of how the event was built) and the deployment's settings:
 * whom each grant reminds (its policy), how many recipients are too many, who opted out, how
 * close to `now` is too late, and which grant reminds a meeting several grants hold. The
 * checks run in this order, the first that holds giving the reason:
 *   the base verdict (cancelled, all_day, user_declined, no_other_participants,
 *   all_others_declined), private, the policy (not_organizer, internal_only),
 *   too_many_recipients, covered_by_other_grant, opted_out, started.
 * A meeting several connected grants hold (same ical_uid and start) is reminded by one of
 * those that would remind it alone: the organiser's grant if it is one of them, else the one
 * with the smallest grant id; the others give covered_by_other_grant.
 */
import { expandMaster, type CalendarIndex, type IndexedEvent } from "./events.js";
import type { GrantState, SandboxStore } from "./store.js";
import { addDays, localDate, startOfLocalDay } from "./tz.js";
import type { ExpectedAnnotation, ExpectedReason, ReminderPolicy, WireEvent } from "./types.js";

export interface Suppression {
  /** The address that asked for no more reminders (any case). */
  recipient: string;
  /** Only from this sender (the grant's email, any case); absent: from every grant. */
  sender?: string;
}

export interface ExpectedOptions {
  grantIds?: string[];
  /** A local date for every grant, one per grant, or "tomorrow" (default) relative to `now`. */
  day?: string | Record<string, string> | "tomorrow";
  now?: Date | number;
  /**
   * Include grants whose status is invalid (default false: the worker gets 401 for them).
   * They then also count as connected when grants share a meeting.
   */
  includeInvalid?: boolean;
  /** Policy per grant id; grants not listed have `defaultPolicy`. */
  policy?: Record<string, ReminderPolicy>;
  /** Default "organized". */
  defaultPolicy?: ReminderPolicy;
  /** More recipients than this: too_many_recipients (default 25). */
  maxRecipients?: number;
  /**
   * Meetings starting less than this many minutes after `now`: started (default 15; 0: off).
   * Without `now`, a `day` named by the caller is judged as the night before it: none started.
   */
  minLeadMinutes?: number;
  /** Recipients removed from every reminder (of one sender, or all); none left: opted_out. */
  suppressed?: Suppression[];
}

export interface ExpectedDecision {
  grantId: string;
  /** Occurrence id for recurring events. */
  eventId: string;
  masterEventId?: string;
  /** The meeting's iCalendar UID: the same on every calendar that holds it. */
  icalUid: string;
  title: string;
  /** Start, epoch seconds. */
  start: number;
  /** The grant-local day the decision is for. */
  day: string;
  /** The user's true zone, which that day is in (whatever the calendar exposes): a reminder shows its time in it. */
  zone: string;
  remind: boolean;
  /** Who gets the reminder (suppressed ones removed); empty when remind is false. */
  recipients: string[];
  reason?: ExpectedReason;
  /** hide_participants: one message per recipient, each to that recipient alone. */
  individual?: true;
}

export type ExpectedReminder = Pick<
  ExpectedDecision,
  "grantId" | "eventId" | "masterEventId" | "icalUid" | "title" | "start" | "day" | "zone" | "recipients" | "individual"
>;

export const DEFAULT_MAX_RECIPIENTS = 25;
export const DEFAULT_MIN_LEAD_MINUTES = 15;

interface Settings {
  policyOf: (grantId: string) => ReminderPolicy;
  maxRecipients: number;
  connected: (g: GrantState) => boolean;
}

/**
 * The reason a grant would not remind the event if it were the only grant holding it, from
 * the base verdict to too_many_recipients; undefined when it would.
 */
function soloReason(g: GrantState, a: ExpectedAnnotation, set: Settings): ExpectedReason | undefined {
  if (!a.remind) return a.reason;
  if (a.private) return "private";
  const policy = set.policyOf(g.grant.id);
  const organiser = a.organizer !== "other";
  if (!organiser && policy !== "all") return "not_organizer";
  if (organiser && policy === "external" && !(a.external ?? outside(g, a.recipients))) return "internal_only";
  if (a.recipients.length > set.maxRecipients) return "too_many_recipients";
  return undefined;
}

const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1).toLowerCase();

/** Whether a recipient has another domain than the user (for annotations without the fact). */
function outside(g: GrantState, recipients: string[]): boolean {
  const mine = domainOf(g.grant.email);
  return recipients.some((r) => domainOf(r) !== mine);
}

/** The annotated record of `grant` for the meeting `uid` starting at `start`, if it holds it. */
function heldBy(g: GrantState, uid: string, start: number): IndexedEvent | undefined {
  for (const cal of g.calendars.values()) {
    for (const rec of startingIn(cal.index, start, start + 1))
      if (rec.ev.ical_uid === uid && rec.s === start && rec.expected) return rec;
    for (const m of cal.index.masters) {
      if (m.ev.ical_uid !== uid || !m.expected) continue;
      if (expandMaster(m, cal.index.zone, start, start + 1).some((o) => o.s === start)) return m;
    }
  }
  return undefined;
}

/** Whether another connected grant holding the meeting reminds it instead of `g`. */
function coveredByOther(
  store: SandboxStore,
  g: GrantState,
  a: ExpectedAnnotation,
  uid: string,
  start: number,
  set: Settings,
): boolean {
  const holders = store.icalHolders.get(uid);
  if (!holders || holders.size < 2) return false;
  const willing: { id: string; organiser: boolean }[] = [{ id: g.grant.id, organiser: a.organizer !== "other" }];
  for (const id of holders) {
    const h = store.getGrant(id);
    if (!h || h === g || !set.connected(h)) continue;
    const rec = heldBy(h, uid, start);
    if (rec?.expected && soloReason(h, rec.expected, set) === undefined)
      willing.push({ id, organiser: rec.expected.organizer !== "other" });
  }
  const organiser = willing.find((w) => w.organiser);
  const chosen = organiser ?? willing.reduce((x, y) => (y.id < x.id ? y : x));
  return chosen.id !== g.grant.id;
}

const lower = (s: string) => s.toLowerCase();

/** Every annotated event starting on the grant's local day, with the decision a correct worker makes. */
export function expectedDecisions(store: SandboxStore, opts: ExpectedOptions = {}): ExpectedDecision[] {
  const nowMs = opts.now === undefined ? store.now() : typeof opts.now === "number" ? opts.now : opts.now.getTime();
  const maxRecipients = opts.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
  const minLeadMinutes = opts.minLeadMinutes ?? DEFAULT_MIN_LEAD_MINUTES;
  if (!Number.isInteger(maxRecipients) || maxRecipients < 1) throw new Error("maxRecipients must be an integer >= 1");
  if (!Number.isInteger(minLeadMinutes) || minLeadMinutes < 0)
    throw new Error("minLeadMinutes must be an integer >= 0");
  const defaultPolicy = opts.defaultPolicy ?? "organized";
  const set: Settings = {
    policyOf: (id) => opts.policy?.[id] ?? defaultPolicy,
    maxRecipients,
    connected: (h) => opts.includeInvalid === true || h.grant.grant_status === "valid",
  };
  const suppressed = (opts.suppressed ?? []).map((x) => ({
    recipient: lower(x.recipient),
    sender: x.sender === undefined ? undefined : lower(x.sender),
  }));
  const named = opts.day !== undefined && opts.day !== "tomorrow";
  const leadChecked = minLeadMinutes > 0 && !(named && opts.now === undefined);
  const earliest = nowMs / 1000 + minLeadMinutes * 60;
  const states = opts.grantIds ? opts.grantIds.map((id) => store.requireGrant(id)) : store.grantOrder;
  const out: ExpectedDecision[] = [];
  for (const g of states) {
    if (!set.connected(g)) continue;
    const zone = g.zone;
    const day =
      opts.day === undefined || opts.day === "tomorrow"
        ? addDays(localDate(zone, nowMs), 1)
        : typeof opts.day === "string"
          ? opts.day
          : opts.day[g.grant.id];
    if (!day) continue;
    const ws = startOfLocalDay(zone, day) / 1000;
    const we = startOfLocalDay(zone, addDays(day, 1)) / 1000;
    const sender = lower(g.grant.email);
    const decide = (
      a: ExpectedAnnotation,
      ev: WireEvent,
      s: number,
    ): Pick<ExpectedDecision, "recipients" | "reason"> => {
      const solo = soloReason(g, a, set);
      if (solo) return { recipients: [], reason: solo };
      if (coveredByOther(store, g, a, ev.ical_uid, s, set)) return { recipients: [], reason: "covered_by_other_grant" };
      const off = (r: string) => suppressed.some((x) => x.recipient === r && (x.sender ?? sender) === sender);
      const recipients = a.recipients.filter((r) => !off(r));
      if (recipients.length === 0) return { recipients, reason: "opted_out" };
      if (leadChecked && s < earliest) return { recipients: [], reason: "started" };
      return { recipients };
    };
    for (const cal of g.calendars.values()) {
      const push = (ev: WireEvent, s: number, rec: IndexedEvent) => {
        const a = rec.expected;
        if (!a) return;
        const { recipients, reason } = decide(a, ev, s);
        const d: ExpectedDecision = {
          grantId: g.grant.id,
          eventId: ev.id,
          icalUid: ev.ical_uid,
          title: ev.title,
          start: s,
          day,
          zone,
          remind: reason === undefined,
          recipients,
        };
        if (ev.master_event_id) d.masterEventId = ev.master_event_id;
        if (reason) d.reason = reason;
        if (a.individual && !reason) d.individual = true;
        out.push(d);
      };
      for (const rec of startingIn(cal.index, ws, we)) push(rec.ev, rec.s, rec);
      for (const m of cal.index.masters) {
        for (const o of expandMaster(m, cal.index.zone, ws, we)) if (o.s >= ws) push(o.ev, o.s, m);
      }
    }
  }
  return out;
}

/** The decisions that are reminders, without the verdict fields. */
export function expectedReminders(store: SandboxStore, opts: ExpectedOptions = {}): ExpectedReminder[] {
  return expectedDecisions(store, opts)
    .filter((d) => d.remind)
    .map(({ remind: _r, reason: _x, ...rest }) => rest);
}

function* startingIn(index: CalendarIndex, ws: number, we: number): Generator<IndexedEvent> {
  const arr = index.singles;
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]!.s < ws) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < arr.length && arr[i]!.s < we; i++) yield arr[i]!;
}
