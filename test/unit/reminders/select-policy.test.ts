import type { Event } from "nylas";
import { describe, expect, it } from "vitest";
import { selectMeetings, type SelectContext } from "../../../src/reminders/select.js";
import { emailDomain, policySkip } from "../../../src/reminders/policy.js";
import type { Selection } from "../../../src/reminders/meeting.js";
import { localDayWindow } from "../../../src/time/window.js";

// The checks after an event is a meeting with other people: private, the policy, the cap,
// in that order (src/reminders/policy.ts), through selectMeetings.

const ZONE = "Europe/Berlin";
const DAY = "2026-11-24";
const WINDOW = localDayWindow(ZONE, DAY);
const START = Date.parse(`${DAY}T09:30:00+01:00`) / 1000;
const ME = "me@Example.com";
const ctx: SelectContext = { window: WINDOW, grantEmail: ME, zone: ZONE, policy: "organized", maxRecipients: 25 };

const me = { email: "me@example.com", status: "yes" };
const colleague = { email: "kim@example.com", status: "yes" };
const outsider = { email: "pat@partner.org", status: "yes" };
const boss = { email: "boss@example.com" };

function ev(over: Record<string, unknown> = {}): Event {
  return {
    id: "ev1",
    object: "event",
    grantId: "g1",
    calendarId: "primary",
    status: "confirmed",
    title: "Planning",
    when: { object: "timespan", startTime: START, endTime: START + 1800 },
    participants: [me, colleague, outsider],
    organizer: { email: ME },
    ...over,
  } as unknown as Event;
}

const run = (events: unknown[], extra: Partial<SelectContext> = {}): Selection =>
  selectMeetings(events as Event[], { ...ctx, ...extra });

const guests = (n: number, domain = "partner.org") =>
  Array.from({ length: n }, (_, i) => ({ email: `guest${i}@${domain}`, status: "yes" }));

describe("selectMeetings: policy, private and the recipient cap", () => {
  // [name, event, ctx extras, selected?, skipped]
  const cases: [string, Event, Partial<SelectContext>, boolean, Selection["skipped"]][] = [
    ["organized: the user organises it", ev(), {}, true, {}],
    ["organized: no organizer given is the user's", ev({ organizer: undefined }), {}, true, {}],
    ["organized: the user only attends", ev({ organizer: boss }), {}, false, { not_organizer: 1 }],
    ["all: the user only attends", ev({ organizer: boss }), { policy: "all" }, true, {}],
    ["external: organised, with an outside guest", ev(), { policy: "external" }, true, {}],
    [
      "external: organised, every guest in the user's domain",
      ev({ participants: [me, colleague, { email: "LEE@EXAMPLE.COM", status: "maybe" }] }),
      { policy: "external" },
      false,
      { internal_only: 1 },
    ],
    [
      "external: a subdomain is another domain",
      ev({ participants: [me, colleague, { email: "ana@eu.example.com", status: "yes" }] }),
      { policy: "external" },
      true,
      {},
    ],
    [
      "external: an outside guest who declined does not count",
      ev({ participants: [me, colleague, { ...outsider, status: "no" }] }),
      { policy: "external" },
      false,
      { internal_only: 1 },
    ],
    [
      "external: attending someone else's meeting with outsiders",
      ev({ organizer: boss }),
      { policy: "external" },
      false,
      { not_organizer: 1 },
    ],
    ["private", ev({ visibility: "private" }), { policy: "all" }, false, { private: 1 }],
    ["private, odd case", ev({ visibility: "PRIVATE" }), {}, false, { private: 1 }],
    ["public is not private", ev({ visibility: "public" }), {}, true, {}],
    ["garbage visibility is not private", ev({ visibility: { private: true } }), {}, true, {}],
    ["recipients at the cap", ev({ participants: [me, ...guests(3)] }), { maxRecipients: 3 }, true, {}],
    [
      "one recipient over the cap",
      ev({ participants: [me, ...guests(4)] }),
      { maxRecipients: 3 },
      false,
      { too_many_recipients: 1 },
    ],
    [
      "the cap counts recipients, not the user, rooms or decliners",
      ev({
        participants: [
          me,
          ...guests(3),
          { email: "room@resource.calendar.google.com", status: "yes" },
          { email: "no@partner.org", status: "no" },
        ],
      }),
      { maxRecipients: 3 },
      true,
      {},
    ],
  ];
  it.each(cases)("%s", (_name, event, extra, selected, skipped) => {
    const r = run([event], extra);
    expect(r.meetings.map((m) => m.eventId)).toEqual(selected ? ["ev1"] : []);
    expect(r.skipped).toEqual(skipped);
    expect(r.problems).toEqual([]);
  });
});

describe("selectMeetings: the order of the checks", () => {
  const crowd = [me, ...guests(30, "example.com")];
  it.each([
    [
      "earlier checks win over the policy ones",
      ev({ status: "cancelled", visibility: "private", organizer: boss }),
      { cancelled: 1 },
    ],
    [
      "no other participants before private",
      ev({ participants: [me], visibility: "private" }),
      { no_other_participants: 1 },
    ],
    ["private before not_organizer", ev({ visibility: "private", organizer: boss }), { private: 1 }],
    ["not_organizer before too_many_recipients", ev({ organizer: boss, participants: crowd }), { not_organizer: 1 }],
  ])("%s", (_name, event, skipped) => {
    expect(run([event]).skipped).toEqual(skipped);
  });

  it("internal_only before too_many_recipients", () => {
    expect(run([ev({ participants: [me, ...guests(30, "example.com")] })], { policy: "external" }).skipped).toEqual({
      internal_only: 1,
    });
  });

  it("too_many_recipients last: an organised meeting with outsiders over the cap", () => {
    expect(run([ev({ participants: [me, ...guests(30)] })], { policy: "external" }).skipped).toEqual({
      too_many_recipients: 1,
    });
  });

  it("counts each reason in one batch", () => {
    const r = run([
      ev({ id: "ok" }),
      ev({ id: "attend", organizer: boss }),
      ev({ id: "priv", visibility: "private" }),
      ev({ id: "big", participants: [me, ...guests(26)] }),
    ]);
    expect(r.meetings.map((m) => m.eventId)).toEqual(["ok"]);
    expect(r.skipped).toEqual({ not_organizer: 1, private: 1, too_many_recipients: 1 });
  });

  it("a bad policy or cap is a programming error", () => {
    expect(() => run([], { policy: "some" as never })).toThrow(TypeError);
    expect(() => run([], { maxRecipients: 0 })).toThrow(TypeError);
    expect(() => run([], { maxRecipients: 2.5 })).toThrow(TypeError);
  });
});

describe("policySkip and emailDomain", () => {
  it("compares domains whole and case-insensitively", () => {
    expect(emailDomain("A@Example.COM ")).toBe("example.com");
    expect(emailDomain("nobody")).toBe("");
    const m = { userIsOrganizer: true, recipients: [{ email: "x@EXAMPLE.com" }] };
    expect(policySkip(m, undefined, "me@example.com", { policy: "external", maxRecipients: 5 })).toBe("internal_only");
    expect(policySkip(m, "default", "me@example.org", { policy: "external", maxRecipients: 5 })).toBeUndefined();
  });
});
