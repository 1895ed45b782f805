import { describe, expect, it } from "vitest";
import { dayChanges, type DayChangesInput } from "../../../src/reminders/changes.js";
import type { SentRow } from "../../../src/reminders/ledger.js";
import type { Meeting } from "../../../src/reminders/meeting.js";

const iso = (s: string): number => Date.parse(s) / 1000;
const WINDOW = { start: iso("2026-12-03T00:00:00Z"), end: iso("2026-12-04T00:00:00Z") };
const T11 = iso("2026-12-03T11:00:00Z");
const T15 = iso("2026-12-03T15:00:00Z");
const bob = [{ email: "bob@example.com", name: "Bob" }];

const meeting = (eventId: string, start: number): Meeting => ({
  eventId,
  start,
  end: start + 1800,
  title: `Meeting ${eventId}`,
  recipients: bob,
  recurring: false,
  userIsOrganizer: true,
});
const event = (id: string, start: number, status = "confirmed") => ({
  id,
  status,
  when: { object: "timespan", startTime: start, endTime: start + 1800 },
});
const sent = (eventId: string, eventStart: number, kind: SentRow["kind"] = "reminder"): SentRow => ({
  eventId,
  eventStart,
  kind,
  title: `Sent ${eventId}`,
  recipients: bob,
  audience: "",
});
const input = (over: Partial<DayChangesInput>): DayChangesInput => ({
  events: [],
  meetings: [],
  sent: [],
  cancelNotices: true,
  ...over,
});

describe("dayChanges: what a re-run sends besides the day's reminders", () => {
  it("a first run (nothing sent): the meetings as they are, nothing moved or cancelled", () => {
    const m = meeting("a", T11);
    expect(dayChanges(input({ events: [event("a", T11)], meetings: [m] }))).toEqual({
      meetings: [m],
      cancellations: [],
      absent: [],
      moved: 0,
    });
  });

  it("a meeting still at the start it was reminded of is unchanged (the ledger absorbs it)", () => {
    const r = dayChanges(input({ events: [event("a", T11)], meetings: [meeting("a", T11)], sent: [sent("a", T11)] }));
    expect(r.meetings[0]!.movedFrom).toBeUndefined();
    expect(r).toMatchObject({ cancellations: [], moved: 0 });
  });

  it("a meeting reminded of at 11:00, now at 15:00 in the day: moved from 11:00, no cancellation", () => {
    const r = dayChanges(input({ events: [event("a", T15)], meetings: [meeting("a", T15)], sent: [sent("a", T11)] }));
    expect(r.meetings).toEqual([{ ...meeting("a", T15), movedFrom: T11 }]);
    expect(r).toMatchObject({ cancellations: [], absent: [], moved: 1 });
  });

  it("moved twice: the start of the latest sent reminder is the one it moved from", () => {
    const T16 = T15 + 3600;
    const r = dayChanges(
      input({ events: [event("a", T16)], meetings: [meeting("a", T16)], sent: [sent("a", T11), sent("a", T15)] }),
    );
    expect(r.meetings[0]!.movedFrom).toBe(T15);
  });

  it("the input meetings are not changed", () => {
    const m = meeting("a", T15);
    dayChanges(input({ events: [event("a", T15)], meetings: [m], sent: [sent("a", T11)] }));
    expect(m.movedFrom).toBeUndefined();
  });

  const notice = {
    eventId: "a",
    start: T11,
    end: T11,
    title: "Sent a",
    recipients: bob,
    recurring: false,
    userIsOrganizer: false,
    cancelled: true,
  };

  it("a reminded meeting listed with status cancelled: one notice with the sent row's title, start and recipients", () => {
    const r = dayChanges(input({ events: [event("a", T11, "cancelled")], sent: [sent("a", T11)] }));
    expect(r).toMatchObject({ cancellations: [notice], absent: [] });
  });

  it("a meeting reminded one message per guest: one notice to every guest, again one by one", () => {
    const own = (email: string): SentRow => ({ ...sent("a", T11), recipients: [{ email }], audience: email });
    const r = dayChanges(
      input({
        events: [event("a", T11, "cancelled")],
        // Oldest send first: a reminder before the meeting moved, then the two guests' own.
        sent: [{ ...own("old@example.com"), eventStart: T11 - 600 }, own("amy@example.com"), own("bob@example.com")],
      }),
    );
    expect(r.cancellations).toHaveLength(1);
    expect(r.cancellations[0]).toMatchObject({
      start: T11,
      recipients: [{ email: "amy@example.com" }, { email: "bob@example.com" }],
      hideParticipants: true,
      cancelled: true,
    });
  });

  it("a reminded meeting not listed at all: absent (deleted, or moved to another day), for the caller to ask", () => {
    const r = dayChanges(input({ events: [], sent: [sent("a", T11)] }));
    expect(r).toMatchObject({ cancellations: [], absent: [notice] });
  });

  it("a reminded meeting still listed but starting outside the day now: moved out, no notice", () => {
    const r = dayChanges(input({ events: [event("a", WINDOW.end + 3600)], sent: [sent("a", T11)] }));
    expect(r).toMatchObject({ cancellations: [], absent: [], moved: 0 });
  });

  it("moved within the day, then cancelled: one notice, at the latest reminded start", () => {
    const r = dayChanges(input({ events: [], sent: [sent("a", T11), sent("a", T15)] }));
    expect(r.absent.map((c) => [c.eventId, c.start])).toEqual([["a", T15]]);
  });

  it("a meeting still in the day that selection passed over (declined, say) is neither moved nor cancelled", () => {
    const r = dayChanges(input({ events: [event("a", T11)], meetings: [], sent: [sent("a", T11)] }));
    expect(r).toEqual({ meetings: [], cancellations: [], absent: [], moved: 0 });
  });

  it("an id listed twice, once cancelled and once not, is still in the day", () => {
    const events = [event("a", T11, "cancelled"), event("a", T11)];
    expect(dayChanges(input({ events, sent: [sent("a", T11)] })).cancellations).toEqual([]);
  });

  it("cancellation notices sent before do not count as reminders (no notice of a notice)", () => {
    const r = dayChanges(input({ events: [], sent: [sent("a", T11, "cancellation")] }));
    expect(r).toMatchObject({ cancellations: [], absent: [] });
  });

  it("CANCEL_NOTICES=false: no notices, moves still marked", () => {
    const r = dayChanges(
      input({
        cancelNotices: false,
        events: [event("b", T15)],
        meetings: [meeting("b", T15)],
        sent: [sent("a", T11), sent("b", T11)],
      }),
    );
    expect(r).toMatchObject({ cancellations: [], absent: [], moved: 1 });
  });
});
