import { describe, expect, it } from "vitest";
import {
  addDays,
  expectedDecisions,
  localDate,
  seed,
  SandboxStore,
  SEED_PROVIDERS,
  type GrantState,
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
