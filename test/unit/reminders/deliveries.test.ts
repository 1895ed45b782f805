import { describe, expect, it } from "vitest";
import { SHARED_AUDIENCE, toDeliveries } from "../../../src/reminders/deliveries.js";
import type { Meeting } from "../../../src/reminders/meeting.js";

const meeting = (eventId: string, emails: string[], over: Partial<Meeting> = {}): Meeting => ({
  eventId,
  start: 1_795_500_000,
  end: 1_795_501_800,
  title: eventId,
  recipients: emails.map((email) => ({ email, name: email.split("@")[0] })),
  recurring: false,
  userIsOrganizer: true,
  ...over,
});

const summary = (ms: Meeting[], mode?: "shared" | "individual") =>
  toDeliveries(ms, mode).map((d) => [d.meeting.eventId, d.audience, d.recipients.map((r) => r.email)]);

describe("toDeliveries", () => {
  it("sends a meeting one shared message to all its recipients by default", () => {
    const m = meeting("a", ["x@example.com", "y@example.com"]);
    const [d, ...rest] = toDeliveries([m]);
    expect(rest).toEqual([]);
    expect(d).toEqual({ meeting: m, audience: SHARED_AUDIENCE, recipients: m.recipients });
    expect(SHARED_AUDIENCE).toBe("");
  });

  it("gives each recipient of a hidden guest list a message of their own, by lowercase address", () => {
    const m = meeting("h", ["Zoe@Example.com", "amy@example.com", "bob@example.com"], { hideParticipants: true });
    const out = toDeliveries([m]);
    expect(out.map((d) => [d.audience, d.recipients])).toEqual([
      ["amy@example.com", [{ email: "amy@example.com", name: "amy" }]],
      ["bob@example.com", [{ email: "bob@example.com", name: "bob" }]],
      // The address keeps its case in `to`; only the audience is lowercased.
      ["zoe@example.com", [{ email: "Zoe@Example.com", name: "Zoe" }]],
    ]);
    for (const d of out) expect(d.meeting).toBe(m);
  });

  it("keeps the meetings' order and is the same whatever order the recipients come in", () => {
    const emails = ["c@example.com", "a@example.com", "b@example.com"];
    const hidden = (list: string[]) => meeting("h", list, { hideParticipants: true });
    const before = meeting("first", ["f@example.com"]);
    const after = meeting("last", ["l@example.com"]);
    const one = summary([before, hidden(emails), after]);
    expect(summary([before, hidden([...emails].reverse()), after])).toEqual(one);
    expect(one).toEqual([
      ["first", "", ["f@example.com"]],
      ["h", "a@example.com", ["a@example.com"]],
      ["h", "b@example.com", ["b@example.com"]],
      ["h", "c@example.com", ["c@example.com"]],
      ["last", "", ["l@example.com"]],
    ]);
  });

  it("splits every meeting with REMINDER_DELIVERY=individual", () => {
    const ms = [meeting("a", ["y@example.com", "x@example.com"]), meeting("b", ["z@example.com"])];
    expect(summary(ms, "individual")).toEqual([
      ["a", "x@example.com", ["x@example.com"]],
      ["a", "y@example.com", ["y@example.com"]],
      ["b", "z@example.com", ["z@example.com"]],
    ]);
    expect(summary(ms, "shared")).toEqual([
      ["a", "", ["y@example.com", "x@example.com"]],
      ["b", "", ["z@example.com"]],
    ]);
  });

  it("sends one message to an address listed twice (case, spaces aside), none to a blank one", () => {
    const m = meeting("d", ["A@example.com", " a@example.com", "", "b@example.com"], { hideParticipants: true });
    expect(summary([m])).toEqual([
      ["d", "a@example.com", ["A@example.com"]],
      ["d", "b@example.com", ["b@example.com"]],
    ]);
  });

  it("makes no message for a meeting without recipients, nor for no meetings", () => {
    expect(toDeliveries([meeting("e", [], { hideParticipants: true })])).toEqual([]);
    expect(toDeliveries([])).toEqual([]);
  });
});
