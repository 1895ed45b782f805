import { describe, expect, it } from "vitest";
import {
  addDays,
  expectedDecisions,
  expectedReminders,
  localDate,
  seed,
  SandboxStore,
  SEED_PROVIDERS,
  type ExpectedDecision,
  type ExpectedReason,
  type GrantState,
  type ReminderPolicy,
  type WireEvent,
} from "../src/index.js";

const NOW = Date.parse("2026-03-07T20:00:00Z");

function seeded(grants: number, seedNo = 1): SandboxStore {
  const s = new SandboxStore(() => NOW);
  seed(s, { grants, seed: seedNo, now: NOW });
  return s;
}

function storedEvents(g: GrantState): WireEvent[] {
  return [...g.calendars.values()].flatMap((c) => [...c.index.singles, ...c.index.masters].map((r) => r.ev));
}

/** The events the user organises that are timed spans within ±7 days of the seed's day. */
function organisedNearby(g: GrantState): WireEvent[] {
  const today = localDate(g.zone, NOW);
  return storedEvents(g).filter((e) => {
    if (e.organizer.email.toLowerCase() !== g.grant.email.toLowerCase() || e.when.object !== "timespan") return false;
    const day = localDate(g.zone, e.when.start_time * 1000);
    return day >= addDays(today, -7) && day <= addDays(today, 7);
  });
}

describe("seeds across providers", () => {
  it("spreads grants over Google, Microsoft, iCloud and IMAP, by position, whatever the seed", () => {
    const a = seeded(36, 1);
    const b = seeded(36, 2);
    const providers = (s: SandboxStore) => s.grantOrder.map((g) => g.grant.provider);
    expect(providers(a)).toEqual(providers(b));
    expect(providers(a)).toEqual(Array.from({ length: 36 }, (_, k) => SEED_PROVIDERS[k % SEED_PROVIDERS.length]));
    const count = (p: string) => providers(a).filter((x) => x === p).length;
    expect(count("microsoft")).toBeGreaterThanOrEqual(12);
    expect(count("icloud")).toBeGreaterThan(0);
    expect(count("imap")).toBeGreaterThan(0);
    expect(count("google")).toBe(36 - count("microsoft") - count("icloud") - count("imap"));
    // Same positions, other ids and guests.
    expect(a.grantOrder[0]!.grant.id).not.toBe(b.grantOrder[0]!.grant.id);
  });

  it("has every Google, Microsoft and iCloud user organise ≥ 3 timed spans in their true zone", () => {
    const s = seeded(36);
    for (const g of s.grantOrder) {
      if (g.grant.provider === "imap") continue;
      const mine = organisedNearby(g);
      expect(mine.length, g.grant.provider).toBeGreaterThanOrEqual(3);
      for (const e of mine) {
        const w = e.when as { start_timezone?: string; end_timezone?: string };
        expect([w.start_timezone, w.end_timezone], `${g.grant.provider} ${e.title}`).toEqual([g.zone, g.zone]);
      }
    }
    expect(s.grantOrder.filter((g) => g.zone !== "UTC").length).toBeGreaterThan(30);
  });

  it("gives the meetings the user only attends their organiser's zone, early in the user's day", () => {
    const s = seeded(24);
    for (const g of s.grantOrder) {
      if (g.grant.provider === "imap") continue;
      const attended = storedEvents(g).filter((e) => e.organizer.email !== g.grant.email);
      expect(attended.length).toBeGreaterThan(0);
      for (const e of attended) {
        expect(e.when.object).toBe("timespan");
        const w = e.when as { start_timezone?: string; start_time: number };
        expect(w.start_timezone).toBeDefined();
        expect(w.start_timezone).not.toBe(g.zone);
        // The organiser is listed, so they are a recipient whichever way "the others" are read.
        expect(e.participants.some((p) => p.email === e.organizer.email)).toBe(true);
      }
      // On each seeded day the attended meeting starts before anything the user organises.
      const today = localDate(g.zone, NOW);
      const onDay = (e: WireEvent) =>
        e.when.object === "timespan" && localDate(g.zone, e.when.start_time * 1000) === addDays(today, 1);
      const day = storedEvents(g)
        .filter(onDay)
        .sort((x, y) => (x.when as { start_time: number }).start_time - (y.when as { start_time: number }).start_time);
      expect(day[0]!.organizer.email).not.toBe(g.grant.email);
    }
  });

  it("keeps calendar zones per provider and files iCloud events in its own non-primary calendar", () => {
    const s = seeded(12);
    for (const g of s.grantOrder) {
      const cals = [...g.calendars.values()].map((c) => c.wire);
      switch (g.grant.provider) {
        case "google":
          expect(cals.map((c) => [c.is_primary, c.timezone])).toEqual([[true, g.zone]]);
          break;
        case "microsoft":
          expect(cals.map((c) => [c.is_primary, c.timezone])).toEqual([[true, undefined]]);
          break;
        case "icloud": {
          expect(cals.every((c) => !c.is_primary && c.timezone === undefined)).toBe(true);
          const own = g.calendars.get(g.primaryCalendarId)!;
          expect(own.wire.read_only).toBe(false);
          expect(own.index.size).toBeGreaterThan(0);
          const others = [...g.calendars.values()].filter((c) => c !== own);
          expect(others.every((c) => c.index.size === 0 && c.wire.read_only)).toBe(true);
          break;
        }
        case "imap":
          expect(cals).toEqual([]);
          break;
        default:
          throw new Error(`unexpected provider ${g.grant.provider}`);
      }
    }
  });

  it("expects nothing of IMAP grants and computes every other day in the user's true zone", () => {
    const s = seeded(24);
    const decisions = expectedDecisions(s, { now: NOW });
    const byGrant = new Map(s.grantOrder.map((g) => [g.grant.id, g]));
    expect(decisions.length).toBeGreaterThan(0);
    for (const d of decisions) {
      const g = byGrant.get(d.grantId)!;
      expect(g.grant.provider).not.toBe("imap");
      expect(d.zone).toBe(g.zone);
      expect(d.day).toBe(addDays(localDate(g.zone, NOW), 1));
      expect(localDate(g.zone, d.start * 1000)).toBe(d.day);
    }
    const imap = s.grantOrder.filter((g) => g.grant.provider === "imap");
    expect(imap.length).toBeGreaterThan(0);
    expect(imap.every((g) => storedEvents(g).length === 0)).toBe(true);
    // Microsoft and iCloud users get reminders too, though their calendars show no zone.
    const providers = new Set(decisions.filter((d) => d.remind).map((d) => byGrant.get(d.grantId)!.grant.provider));
    expect(providers).toEqual(new Set(["google", "microsoft", "icloud"]));
  });
});

/** The decision the seed's construction implies for each scenario, by title, under a policy. */
function constructed(
  title: string,
  o: { provider: string; organises: boolean; policy: ReminderPolicy; hostConnected: boolean },
): ExpectedReason | undefined {
  const policyFor = (attended: ExpectedReason | undefined) => (o.policy === "all" ? attended : "not_organizer");
  switch (title) {
    case "Team sync":
    case "Planning (one declined)":
    case "Duplicates":
    case "Deadline check-in":
    case "Late call (crosses midnight)":
    case "Interview":
    case "Daily stand-up":
    case "Weekly 1:1":
      return undefined;
    case "Design review (declined)":
      return "user_declined";
    case "Cancelled 1:1":
      return "cancelled";
    case "Client call (all declined)":
      return "all_others_declined";
    case "Focus time":
      return "no_other_participants";
    case "Offsite (all day)":
    case "Conference (two days)":
    case "Gym (all-day, daily)":
      return "all_day";
    case "All hands":
    case "Steering committee (30 guests)":
      return "too_many_recipients";
    case "Partner briefing (attending)":
      return policyFor(undefined);
    case "Company all-hands (attending)":
      return policyFor("too_many_recipients");
    case "Private 1:1":
      return o.provider === "icloud" ? undefined : "private";
    case "Candidate panel (hidden guests)":
      return undefined;
    case "Team retro (internal)":
      return o.policy === "external" ? "internal_only" : undefined;
    case "Cross-team sync (shared)":
      if (o.organises) return undefined;
      return policyFor(o.hostConnected ? "covered_by_other_grant" : undefined);
    default:
      throw new Error(`no scenario titled ${title}`);
  }
}

const TITLES = [
  "Team sync",
  "Design review (declined)",
  "Cancelled 1:1",
  "Planning (one declined)",
  "Client call (all declined)",
  "Focus time",
  "All hands",
  "Duplicates",
  "Deadline check-in",
  "Offsite (all day)",
  "Conference (two days)",
  "Late call (crosses midnight)",
  "Interview",
  "Partner briefing (attending)",
  "Company all-hands (attending)",
  "Steering committee (30 guests)",
  "Private 1:1",
  "Candidate panel (hidden guests)",
  "Team retro (internal)",
  "Cross-team sync (shared)",
  "Daily stand-up",
  "Gym (all-day, daily)",
];

describe("the seed's scenarios for whom to remind", () => {
  const s = seeded(24);
  const grants = s.grantOrder;
  /** One grant in three `all`, one in three `external`, the rest the default. */
  const mixed: Record<string, ReminderPolicy> = Object.fromEntries(
    grants.flatMap((g, k): [string, ReminderPolicy][] =>
      k % 3 === 1 ? [[g.grant.id, "all"]] : k % 3 === 2 ? [[g.grant.id, "external"]] : [],
    ),
  );
  const eventOf = (d: ExpectedDecision) => s.findEvent(d.grantId, d.masterEventId ?? d.eventId)!.rec.ev;
  const hostOf = (ev: WireEvent) => s.grantByEmail(ev.organizer.email);

  function checkAll(policy: Record<string, ReminderPolicy>, defaultPolicy: ReminderPolicy): ExpectedDecision[] {
    const decisions = expectedDecisions(s, { now: NOW, policy, defaultPolicy });
    const seen = new Set<string>();
    for (const d of decisions) {
      const g = s.getGrant(d.grantId)!;
      const ev = eventOf(d);
      const host = hostOf(ev);
      const want = constructed(d.title, {
        provider: g.grant.provider,
        organises: ev.organizer.email === g.grant.email,
        policy: policy[d.grantId] ?? defaultPolicy,
        hostConnected: host?.grant.grant_status === "valid",
      });
      expect(d.reason, `${g.grant.provider} ${d.title}`).toBe(want);
      expect(d.remind).toBe(want === undefined);
      seen.add(d.title);
    }
    // Every scenario but the three-weekday series (not on every tomorrow) shows up.
    expect([...seen].filter((t) => t !== "Weekly 1:1").sort()).toEqual([...TITLES].sort());
    return decisions;
  }

  it("gives every scenario its reason under each policy and a mix of them", () => {
    checkAll({}, "organized");
    checkAll({}, "all");
    checkAll({}, "external");
    checkAll(mixed, "organized");
  });

  it("has every new reason in a 24-grant seed under a mix of policies", () => {
    const count = (ds: ExpectedDecision[]) => {
      const m = new Map<string, number>();
      for (const d of ds) m.set(d.reason ?? "remind", (m.get(d.reason ?? "remind") ?? 0) + 1);
      return m;
    };
    const byReason = count(expectedDecisions(s, { now: NOW, policy: mixed }));
    const newReasons = ["private", "not_organizer", "internal_only", "too_many_recipients", "covered_by_other_grant"];
    for (const r of newReasons) expect(byReason.get(r) ?? 0, r).toBeGreaterThan(0);
    // The last two need settings: an opt-out that empties a meeting, and a lead time.
    const deadline = expectedReminders(s, { now: NOW, policy: mixed }).filter((r) => r.title === "Deadline check-in");
    const suppressed = deadline.map((r) => ({ recipient: r.recipients[0]! }));
    const all = count(expectedDecisions(s, { now: NOW, policy: mixed, suppressed, minLeadMinutes: 24 * 60 }));
    for (const r of [...newReasons, "opted_out", "started"]) expect(all.get(r) ?? 0, r).toBeGreaterThan(0);
    expect(all.get("opted_out")).toBe(deadline.length);
    expect(all.get("remind") ?? 0).toBeGreaterThan(0);
  });

  it("marks hidden-guest meetings individual and keeps private and hidden on the stored events", () => {
    const reminders = expectedReminders(s, { now: NOW });
    const panels = reminders.filter((r) => r.title === "Candidate panel (hidden guests)");
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      const g = s.getGrant(p.grantId)!;
      const ev = s.findEvent(p.grantId, p.eventId)!.rec.ev;
      expect(p.recipients).toHaveLength(3);
      expect(p.recipients).toEqual(
        ev.participants
          .map((x) => x.email.toLowerCase())
          .filter((e) => e !== g.grant.email.toLowerCase())
          .sort(),
      );
      if (g.grant.provider === "icloud") {
        expect(ev.hide_participants).toBeUndefined();
        expect(p.individual).toBeUndefined();
      } else {
        expect(ev.hide_participants).toBe(true);
        expect(p.individual).toBe(true);
      }
    }
    // Nothing else is individual.
    expect(reminders.filter((r) => r.individual).every((r) => r.title.startsWith("Candidate panel"))).toBe(true);
    const privates = grants.flatMap((g) => storedEvents(g).filter((e) => e.title === "Private 1:1"));
    expect(privates.length).toBeGreaterThan(0);
    for (const e of privates)
      expect(e.visibility).toBe(s.getGrant(e.grant_id)!.grant.provider === "icloud" ? undefined : "private");
  });

  it("puts the shared meeting on both calendars with one ical_uid; one grant reminds each person", () => {
    const withCal = grants.filter((g) => g.calendars.size > 0);
    for (const [i, host] of withCal.entries()) {
      const mine = storedEvents(host).filter(
        (e) => e.title === "Cross-team sync (shared)" && e.organizer.email === host.grant.email,
      );
      if (i === withCal.length - 1) {
        expect(mine).toEqual([]);
        continue;
      }
      const colleague = withCal[i + 1]!;
      expect(mine).toHaveLength(5); // yesterday, today and 3 days
      for (const e of mine) {
        const copies = storedEvents(colleague).filter((c) => c.ical_uid === e.ical_uid);
        expect(copies).toHaveLength(1);
        const c = copies[0]!;
        expect([c.when, c.participants, c.organizer, c.title]).toEqual([e.when, e.participants, e.organizer, e.title]);
        expect(c.id).not.toBe(e.id);
        expect(e.participants.map((p) => p.email)).toContain(colleague.grant.email);
      }
    }
    // Tomorrow's, from a connected host to a colleague reminding `all`: the host reminds
    // everyone, the colleague included, and the colleague's grant is covered.
    const [host, colleague] = [withCal[0]!, withCal[1]!];
    const policy = { [colleague.grant.id]: "all" as const };
    const ds = expectedDecisions(s, { now: NOW, policy }).filter((d) => d.title === "Cross-team sync (shared)");
    const hostD = ds.find((d) => d.grantId === host.grant.id && eventOf(d).organizer.email === host.grant.email)!;
    const same = ds.filter((d) => d.icalUid === hostD.icalUid);
    expect(same.map((d) => [d.grantId, d.remind, d.reason])).toEqual(
      expect.arrayContaining([
        [host.grant.id, true, undefined],
        [colleague.grant.id, false, "covered_by_other_grant"],
      ]),
    );
    expect(same).toHaveLength(2);
    expect(hostD.recipients).toContain(colleague.grant.email.toLowerCase());
    expect(hostD.start).toBe(same.find((d) => d.grantId === colleague.grant.id)!.start);
    // Under the default the colleague only attends: not_organizer.
    const byDefault = expectedDecisions(s, { now: NOW, grantIds: [colleague.grant.id] });
    expect(byDefault.find((d) => d.icalUid === hostD.icalUid)!.reason).toBe("not_organizer");
  });

  it("lets a colleague reminding `all` cover a host that needs re-authentication", () => {
    const host = grants[9]!;
    expect(host.grant.grant_status).toBe("invalid");
    const withCal = grants.filter((g) => g.calendars.size > 0);
    const colleague = withCal[withCal.indexOf(host) + 1]!;
    const policy = { [colleague.grant.id]: "all" as const };
    const uids = new Set(
      storedEvents(host)
        .filter((e) => e.title === "Cross-team sync (shared)" && e.organizer.email === host.grant.email)
        .map((e) => e.ical_uid),
    );
    const shared = (opts: { includeInvalid?: boolean }) =>
      expectedDecisions(s, { now: NOW, policy, ...opts }).filter((d) => uids.has(d.icalUid));
    // Not connected: the colleague reminds, the host is not even asked.
    const off = shared({});
    expect(off.map((d) => [d.grantId, d.remind])).toEqual([[colleague.grant.id, true]]);
    expect(off[0]!.recipients).toContain(host.grant.email.toLowerCase());
    // Counted as connected: the host reminds, the colleague is covered.
    const on = shared({ includeInvalid: true });
    expect(on.map((d) => [d.grantId, d.reason]).sort()).toEqual(
      [
        [host.grant.id, undefined],
        [colleague.grant.id, "covered_by_other_grant"],
      ].sort(),
    );
  });

  it("builds the same world from the same seed, and another from another", () => {
    const events = (st: SandboxStore) => st.grantOrder.map((g) => storedEvents(g));
    expect(events(seeded(24))).toEqual(events(s));
    expect(expectedDecisions(seeded(24), { now: NOW, policy: {} })).toEqual(expectedDecisions(s, { now: NOW }));
    expect(events(seeded(24, 2))).not.toEqual(events(s));
  });
});
