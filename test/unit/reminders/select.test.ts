import type { Event } from "nylas";
import { describe, expect, it } from "vitest";
import { selectMeetings, timedStart, type SelectContext } from "../../../src/reminders/select.js";
import type { Selection } from "../../../src/reminders/meeting.js";
import { localDayWindow } from "../../../src/time/window.js";

const ZONE = "Europe/Berlin";
const DAY = "2026-11-24";
const WINDOW = localDayWindow(ZONE, DAY); // 2026-11-23T23:00Z .. 2026-11-24T23:00Z
const at = (hhmm: string): number => Date.parse(`${DAY}T${hhmm}:00+01:00`) / 1000; // Berlin wall time
const ME = "me@example.com";
// Policy "all" and a big cap: these tests are about the other checks (see select-policy.test.ts).
const ctx: SelectContext = { window: WINDOW, grantEmail: ME, zone: ZONE, policy: "all", maxRecipients: 500 };

type Loose = Record<string, unknown>;
const alice = { email: "alice@example.com", name: "Alice", status: "yes" };
const bob = { email: "bob@example.org", name: "Bob", status: "noreply" };
const me = { email: ME, status: "yes" };

/** A well-formed timed event (SDK camelCase); override anything, including with garbage. */
function ev(over: Loose = {}): Event {
  return {
    id: "ev1",
    object: "event",
    grantId: "g1",
    calendarId: "primary",
    busy: true,
    readOnly: false,
    visibility: "default",
    status: "confirmed",
    title: "Planning",
    when: { object: "timespan", startTime: at("09:30"), endTime: at("10:15"), startTimezone: ZONE, endTimezone: ZONE },
    participants: [me, alice, bob],
    organizer: { email: ME },
    ...over,
  } as unknown as Event;
}
const timespan = (s: number, e: number): Loose => ({ object: "timespan", startTime: s, endTime: e });

function run(events: unknown[], extra: Partial<SelectContext> = {}): Selection {
  return selectMeetings(events as Event[], { ...ctx, ...extra });
}

describe("selectMeetings: which events count", () => {
  // [name, events, ctx extras, expected meeting ids, expected skipped]
  const cases: [string, unknown[], Partial<SelectContext>, string[], Selection["skipped"]][] = [
    ["ordinary meeting", [ev()], {}, ["ev1"], {}],
    ["starts exactly at window start", [ev({ when: timespan(WINDOW.start, WINDOW.start + 1800) })], {}, ["ev1"], {}],
    [
      "starts one second before the window end",
      [ev({ when: timespan(WINDOW.end - 1, WINDOW.end + 1800) })],
      {},
      ["ev1"],
      {},
    ],
    [
      "starts exactly at window end",
      [ev({ when: timespan(WINDOW.end, WINDOW.end + 1800) })],
      {},
      [],
      { outside_window: 1 },
    ],
    [
      "started yesterday, overlaps the window",
      [ev({ when: timespan(WINDOW.start - 1800, WINDOW.start + 1800) })],
      {},
      [],
      { outside_window: 1 },
    ],
    [
      "multi-day timed event from yesterday",
      [ev({ when: timespan(WINDOW.start - 86_400, WINDOW.end) })],
      {},
      [],
      { outside_window: 1 },
    ],
    ["cancelled", [ev({ status: "cancelled" })], {}, [], { cancelled: 1 }],
    ["cancelled, odd case", [ev({ status: "CANCELLED" })], {}, [], { cancelled: 1 }],
    [
      "cancelled and outside the window counts as outside",
      [ev({ status: "cancelled", when: timespan(WINDOW.end, WINDOW.end + 60) })],
      {},
      [],
      { outside_window: 1 },
    ],
    ["tentative ('maybe') event still counts", [ev({ status: "maybe" })], {}, ["ev1"], {}],
    ["all-day date", [ev({ when: { object: "date", date: DAY } })], {}, [], { all_day: 1 }],
    [
      "all-day datespan",
      [ev({ when: { object: "datespan", startDate: DAY, endDate: "2026-11-26" } })],
      {},
      [],
      { all_day: 1 },
    ],
    ["all-day date included", [ev({ when: { object: "date", date: DAY } })], { includeAllDay: true }, ["ev1"], {}],
    [
      "all-day datespan from yesterday, included",
      [ev({ when: { object: "datespan", startDate: "2026-11-23", endDate: DAY } })],
      { includeAllDay: true },
      [],
      { outside_window: 1 },
    ],
    [
      "all-day date of the next day, included",
      [ev({ when: { object: "date", date: "2026-11-25" } })],
      { includeAllDay: true },
      [],
      { outside_window: 1 },
    ],
    ["user declined", [ev({ participants: [{ ...me, status: "no" }, alice] })], {}, [], { declined_by_user: 1 }],
    [
      "user declined, email in other case",
      [ev({ participants: [{ email: " Me@Example.COM ", status: "no" }, alice] })],
      {},
      [],
      { declined_by_user: 1 },
    ],
    ["user said maybe", [ev({ participants: [{ ...me, status: "maybe" }, alice] })], {}, ["ev1"], {}],
    ["user has not replied", [ev({ participants: [{ ...me, status: "noreply" }, alice] })], {}, ["ev1"], {}],
    ["no participants at all", [ev({ participants: [] })], {}, [], { no_other_participants: 1 }],
    ["participants missing", [ev({ participants: undefined })], {}, [], { no_other_participants: 1 }],
    ["only the user", [ev({ participants: [me] })], {}, [], { no_other_participants: 1 }],
    [
      "everyone else declined",
      [ev({ participants: [me, { ...alice, status: "no" }, { ...bob, status: "no" }] })],
      {},
      [],
      { no_other_participants: 1 },
    ],
    [
      "only a room and a phone dial-in",
      [
        ev({
          participants: [
            me,
            { email: "c_1@resource.calendar.google.com", status: "yes" },
            { phoneNumber: "+15550100", status: "noreply" },
          ],
        }),
      ],
      {},
      [],
      { no_other_participants: 1 },
    ],
    [
      "organizer not listed (Microsoft style) becomes the recipient",
      [ev({ participants: [me], organizer: { email: "boss@example.com", name: "Boss" } })],
      {},
      ["ev1"],
      {},
    ],
    [
      "organizer is a shared Google calendar",
      [ev({ participants: [me], organizer: { email: "abc@group.calendar.google.com" } })],
      {},
      [],
      { no_other_participants: 1 },
    ],
    [
      "organizer listed and declined is not added back",
      [
        ev({
          participants: [me, { email: "boss@example.com", status: "no" }],
          organizer: { email: "BOSS@example.com" },
        }),
      ],
      {},
      [],
      { no_other_participants: 1 },
    ],
    ["instant (`time`) event", [ev({ when: { object: "time", time: at("12:00"), timezone: ZONE } })], {}, ["ev1"], {}],
    [
      "`when` without object, inferred timespan",
      [ev({ when: { startTime: at("12:00"), endTime: at("13:00") } })],
      {},
      ["ev1"],
      {},
    ],
    ["`when` without object, inferred date", [ev({ when: { date: DAY } })], {}, [], { all_day: 1 }],
    ["zero-length timespan", [ev({ when: timespan(at("12:00"), at("12:00")) })], {}, ["ev1"], {}],
  ];
  it.each(cases)("%s", (_name, events, extra, ids, skipped) => {
    const r = run(events, extra);
    expect(r.meetings.map((m) => m.eventId)).toEqual(ids);
    expect(r.skipped).toEqual(skipped);
    expect(r.problems).toEqual([]);
  });
});

describe("selectMeetings: malformed payloads never throw", () => {
  // [name, event, expected problem (eventId, reason fragment)]
  const cases: [string, unknown, string | undefined, RegExp][] = [
    ["null event", null, undefined, /not an object/],
    ["string event", "ev1", undefined, /not an object/],
    ["array event", [ev()], undefined, /not an object/],
    ["missing id", ev({ id: undefined }), undefined, /id/],
    ["empty id", ev({ id: "  " }), undefined, /id/],
    ["numeric id", ev({ id: 42 }), undefined, /id/],
    ["id with CRLF", ev({ id: "ev1\r\nX: y" }), undefined, /id/],
    ["missing when", ev({ when: undefined }), "ev1", /when is missing/],
    ["null when", ev({ when: null }), "ev1", /when is missing/],
    ["when as string", ev({ when: "tomorrow 9am" }), "ev1", /when is missing/],
    ["empty when", ev({ when: {} }), "ev1", /no start/],
    [
      "startTime as numeric string",
      ev({ when: { object: "timespan", startTime: String(at("09:00")), endTime: at("10:00") } }),
      "ev1",
      /startTime/,
    ],
    ["startTime NaN", ev({ when: timespan(Number.NaN, at("10:00")) }), "ev1", /startTime/],
    ["startTime Infinity", ev({ when: timespan(Infinity, Infinity) }), "ev1", /startTime/],
    ["startTime in milliseconds", ev({ when: timespan(at("09:00") * 1000, at("10:00") * 1000) }), "ev1", /startTime/],
    ["endTime missing", ev({ when: { object: "timespan", startTime: at("09:00") } }), "ev1", /endTime/],
    ["end before start", ev({ when: timespan(at("10:00"), at("09:00")) }), "ev1", /before/],
    ["time object without time", ev({ when: { object: "time", timezone: ZONE } }), "ev1", /when.time/],
    [
      "unknown when.object",
      ev({ when: { object: "fortnight", startTime: at("09:00") } }),
      "ev1",
      /unknown when.object/,
    ],
    ["impossible all-day date", ev({ when: { object: "date", date: "2026-02-30" } }), "ev1", /when.date/],
    [
      "datespan end before start",
      ev({ when: { object: "datespan", startDate: DAY, endDate: "2026-11-01" } }),
      "ev1",
      /before/,
    ],
    [
      "participants as object",
      ev({ participants: { email: "alice@example.com" } }),
      "ev1",
      /participants is not an array/,
    ],
    ["participants as string", ev({ participants: "alice@example.com" }), "ev1", /participants is not an array/],
    [
      "only garbage participants",
      ev({ participants: [me, { email: 42 }, { email: "not-an-email" }, "bob@example.org", null] }),
      "ev1",
      /participant #1/,
    ],
  ];
  it.each(cases)("%s", (_name, event, eventId, reason) => {
    let r: Selection | undefined;
    expect(() => (r = run([event]))).not.toThrow();
    expect(r!.meetings).toEqual([]);
    expect(r!.skipped).toEqual({ malformed: 1 });
    expect(r!.problems.length).toBeGreaterThan(0);
    expect(r!.problems[0]!.eventId).toBe(eventId);
    expect(r!.problems.map((p) => p.reason).join("\n")).toMatch(reason);
  });

  it("a non-array events argument is a problem, not a crash", () => {
    const r = selectMeetings(null as unknown as Event[], ctx);
    expect(r).toEqual({ meetings: [], skipped: {}, problems: [{ reason: "events is not an array" }] });
  });

  it("garbage next to real participants: the real ones still get the reminder", () => {
    const r = run([
      ev({
        participants: [
          me,
          { email: "x@y.com\r\nBcc: victim@z.com", status: "yes" },
          { email: "a@b.com, c@d.com", status: "yes" },
          { email: "Eve <eve@example.com>", status: "yes" },
          { email: { address: "o@p.com" }, status: "yes" },
          alice,
        ],
      }),
    ]);
    expect(r.meetings.map((m) => m.recipients)).toEqual([[{ name: "Alice", email: "alice@example.com" }]]);
    expect(r.skipped).toEqual({});
    expect(r.problems).toHaveLength(4);
    expect(r.problems.every((p) => p.eventId === "ev1")).toBe(true);
  });

  it("lone UTF-16 surrogates: text keeps U+FFFD, an id or address with one is unusable", () => {
    const pair = "\ud83d\ude00"; // a whole emoji, kept as it is
    const r = run([
      ev({
        title: `Plan\ud800ning ${pair}`,
        location: "Room \udc00",
        description: "notes\udbff",
        participants: [
          me,
          { email: "x\ud800@example.com", name: "X", status: "yes" },
          { ...alice, name: `Al\udfffice ${pair}` },
        ],
      }),
      ev({ id: "ev\ud8002" }),
    ]);
    expect(r.meetings).toHaveLength(1);
    const [m] = r.meetings;
    expect(m!.title).toBe(`Plan\ufffdning ${pair}`);
    expect(m!.location).toBe("Room \ufffd");
    expect(m!.description).toBe("notes\ufffd");
    expect(m!.recipients).toEqual([{ name: `Al\ufffdice ${pair}`, email: "alice@example.com" }]);
    expect(r.skipped).toEqual({ malformed: 1 });
    expect(r.problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/email/),
      "event id is missing or not a usable string",
    ]);
    // What the ledger stores as JSON: Postgres refuses a lone surrogate's escape.
    expect(JSON.stringify(m)).not.toMatch(/\\ud[89a-f]/);
  });

  it("a bad ctx is a programming error and throws", () => {
    expect(() => selectMeetings([], { ...ctx, includeAllDay: true, zone: undefined })).toThrow();
    expect(() => selectMeetings([], { ...ctx, window: { start: Number.NaN, end: 1 } })).toThrow(TypeError);
    expect(() => selectMeetings([], { ...ctx, window: { start: 2, end: 1 } })).toThrow(TypeError);
    expect(() => selectMeetings([], { ...ctx, grantEmail: "" })).toThrow(TypeError);
  });
});

describe("selectMeetings: recipients", () => {
  // [name, participants, organizer, expected recipients]
  const cases: [string, unknown[], unknown, { name?: string; email: string }[]][] = [
    ["the user is never a recipient", [me, alice], { email: ME }, [{ name: "Alice", email: "alice@example.com" }]],
    [
      "the user in another case is still the user",
      [{ email: "ME@EXAMPLE.COM", status: "yes" }, alice],
      undefined,
      [{ name: "Alice", email: "alice@example.com" }],
    ],
    [
      "decliners are dropped",
      [me, alice, { ...bob, status: "no" }],
      undefined,
      [{ name: "Alice", email: "alice@example.com" }],
    ],
    [
      "maybe and noreply stay",
      [me, { ...alice, status: "maybe" }, bob],
      undefined,
      [
        { name: "Alice", email: "alice@example.com" },
        { name: "Bob", email: "bob@example.org" },
      ],
    ],
    [
      "dedup case-insensitively, first entry and first name win",
      [
        me,
        { email: "Alice@Example.com", name: "Alice A.", status: "yes" },
        { email: "alice@example.com", name: "Ally", status: "yes" },
      ],
      undefined,
      [{ name: "Alice A.", email: "Alice@Example.com" }],
    ],
    [
      "dedup adopts a later name when the first had none",
      [me, { email: "alice@example.com", status: "yes" }, { email: "ALICE@example.com", name: "Alice", status: "yes" }],
      undefined,
      [{ name: "Alice", email: "alice@example.com" }],
    ],
    [
      "listed twice, declined once: declined",
      [me, alice, { ...alice, status: "no" }, bob],
      undefined,
      [{ name: "Bob", email: "bob@example.org" }],
    ],
    [
      "emails are trimmed",
      [me, { email: "  bob@example.org ", status: "yes" }],
      undefined,
      [{ email: "bob@example.org" }],
    ],
    [
      "names: control chars and runs of whitespace cleaned, blank dropped",
      [
        me,
        { email: "a@x.io", name: "Al\u0000ice\r\n  Smith", status: "yes" },
        { email: "b@x.io", name: " \t ", status: "yes" },
      ],
      undefined,
      [{ name: "Al ice Smith", email: "a@x.io" }, { email: "b@x.io" }],
    ],
    [
      "non-string names are ignored",
      [me, { email: "a@x.io", name: { first: "A" }, status: "yes" }],
      undefined,
      [{ email: "a@x.io" }],
    ],
    [
      "rooms and shared calendars are not people",
      [
        me,
        alice,
        { email: "room-1@resource.calendar.google.com", status: "yes" },
        { email: "team@group.calendar.google.com", status: "yes" },
      ],
      undefined,
      [{ name: "Alice", email: "alice@example.com" }],
    ],
    [
      "unlisted organizer appended last",
      [me, alice],
      { email: "boss@example.com", name: "Boss" },
      [
        { name: "Alice", email: "alice@example.com" },
        { name: "Boss", email: "boss@example.com" },
      ],
    ],
    [
      "listed organizer not duplicated",
      [me, { ...alice, name: undefined }],
      { email: "ALICE@example.com", name: "Alice O." },
      [{ email: "alice@example.com" }],
    ],
    ["garbage organizer ignored", [me, alice], { email: "<script>" }, [{ name: "Alice", email: "alice@example.com" }]],
    [
      "unicode domain accepted",
      [me, { email: "jürgen@bücher.de", status: "yes" }],
      undefined,
      [{ email: "jürgen@bücher.de" }],
    ],
  ];
  it.each(cases)("%s", (_name, participants, organizer, expected) => {
    const r = run([ev({ participants, organizer })]);
    expect(r.problems).toEqual([]);
    expect(r.meetings).toHaveLength(1);
    expect(r.meetings[0]!.recipients).toEqual(expected);
  });
});

describe("selectMeetings: pages, order and mapping", () => {
  it("dedups the same occurrence across pages, keeps distinct occurrences", () => {
    const page1 = [
      ev({ id: "r1", masterEventId: "m", when: timespan(at("09:00"), at("10:00")) }),
      ev({ id: "x", status: "cancelled" }),
    ];
    const page2 = [
      ev({ id: "r1", masterEventId: "m", when: timespan(at("09:00"), at("10:00")) }),
      ev({ id: "r1", masterEventId: "m", when: timespan(at("17:00"), at("18:00")) }),
      ev({ id: "x", status: "cancelled" }),
    ];
    const r = run([...page1, ...page2]);
    expect(r.meetings.map((m) => [m.eventId, m.start])).toEqual([
      ["r1", at("09:00")],
      ["r1", at("17:00")],
    ]);
    expect(r.skipped).toEqual({ cancelled: 1 });
  });

  it("orders by start then id regardless of input order", () => {
    const events = [
      ev({ id: "b", when: timespan(at("11:00"), at("12:00")) }),
      ev({ id: "c", when: timespan(at("08:00"), at("09:00")) }),
      ev({ id: "a", when: timespan(at("11:00"), at("11:30")) }),
      ev({ id: "B", when: timespan(at("11:00"), at("11:30")) }),
    ];
    const ids = run(events).meetings.map((m) => m.eventId);
    expect(ids).toEqual(["c", "B", "a", "b"]);
    expect(run([...events].reverse()).meetings.map((m) => m.eventId)).toEqual(ids);
  });

  it("maps the fields of a full event", () => {
    const r = run([
      ev({
        title: "Quarterly review",
        location: "Room 4",
        description: "Agenda: numbers",
        conferencing: { provider: "Zoom Meeting", details: { url: " https://zoom.us/j/123 " } },
        organizer: { email: "Boss@Example.com", name: "Boss" },
        recurrence: ["RRULE:FREQ=WEEKLY"],
        icalUid: "uid-1@example.com",
        hideParticipants: true,
      }),
    ]);
    expect(r.meetings[0]).toEqual({
      eventId: "ev1",
      start: at("09:30"),
      end: at("10:15"),
      title: "Quarterly review",
      location: "Room 4",
      conferencingUrl: "https://zoom.us/j/123",
      description: "Agenda: numbers",
      organizer: { name: "Boss", email: "Boss@Example.com" },
      recipients: [
        { name: "Alice", email: "alice@example.com" },
        { name: "Bob", email: "bob@example.org" },
        { name: "Boss", email: "Boss@Example.com" },
      ],
      recurring: true,
      icalUid: "uid-1@example.com",
      userIsOrganizer: false,
      hideParticipants: true,
    });
  });

  it.each([
    ["master event id", { masterEventId: "m1" }, true],
    ["recurrence rules", { recurrence: ["RRULE:FREQ=DAILY"] }, true],
    ["empty recurrence", { recurrence: [] }, false],
    ["neither", {}, false],
  ])("recurring: %s", (_n, over, expected) => {
    expect(run([ev(over)]).meetings[0]!.recurring).toBe(expected);
  });

  it.each([
    ["missing title", { title: undefined }, ""],
    ["non-string title", { title: 42 }, ""],
    ["blank location dropped", { location: "   " }, undefined],
  ])("%s", (_n, over, expected) => {
    const m = run([ev(over)]).meetings[0]!;
    if ("title" in over) expect(m.title).toBe(expected);
    else expect(m.location).toBe(expected);
  });

  it("all-day included: starts at local midnight, datespan end is inclusive", () => {
    const r = run([ev({ id: "d", when: { object: "datespan", startDate: DAY, endDate: "2026-11-25" } })], {
      includeAllDay: true,
    });
    expect(r.meetings[0]).toMatchObject({
      eventId: "d",
      start: WINDOW.start,
      end: localDayWindow(ZONE, "2026-11-25").end,
      allDay: true,
    });
  });

  it("all-day included on a midnight-skipping day starts at the first existing instant", () => {
    const zone = "Africa/Cairo";
    const w = localDayWindow(zone, "2026-04-24");
    const r = selectMeetings([ev({ when: { object: "date", date: "2026-04-24" } })], {
      window: w,
      grantEmail: ME,
      zone,
      includeAllDay: true,
      policy: "all",
      maxRecipients: 500,
    });
    expect(r.meetings[0]).toMatchObject({ start: w.start, end: w.end, allDay: true });
  });

  it("counts every reason in one mixed batch", () => {
    const events = [
      ev({ id: "ok" }),
      ev({ id: "out", when: timespan(WINDOW.end + 10, WINDOW.end + 20) }),
      ev({ id: "cx", status: "cancelled" }),
      ev({ id: "ad", when: { object: "date", date: DAY } }),
      ev({ id: "dec", participants: [{ ...me, status: "no" }, alice] }),
      ev({ id: "solo", participants: [me] }),
      ev({ id: "bad", when: null }),
      { nonsense: true },
    ];
    const r = run(events);
    expect(r.meetings.map((m) => m.eventId)).toEqual(["ok"]);
    expect(r.skipped).toEqual({
      outside_window: 1,
      cancelled: 1,
      all_day: 1,
      declined_by_user: 1,
      no_other_participants: 1,
      malformed: 2,
    });
    expect(r.problems).toEqual([
      { eventId: "bad", reason: "when is missing or not an object" },
      { reason: "event id is missing or not a usable string" },
    ]);
  });
});

describe("timedStart", () => {
  it.each([
    ["timespan", { object: "timespan", startTime: 1_790_000_000, endTime: 1_790_003_600 }, 1_790_000_000],
    ["time", { object: "time", time: 1_790_000_000, timezone: "UTC" }, 1_790_000_000],
    ["inferred timespan", { startTime: 1_790_000_000, endTime: 1_790_000_000 }, 1_790_000_000],
    [
      "fractional seconds floored",
      { object: "timespan", startTime: 1_790_000_000.9, endTime: 1_790_000_001 },
      1_790_000_000,
    ],
    ["date", { object: "date", date: "2026-11-24" }, undefined],
    ["datespan", { object: "datespan", startDate: "2026-11-24", endDate: "2026-11-25" }, undefined],
    ["string start", { object: "timespan", startTime: "1790000000", endTime: 1_790_000_000 }, undefined],
    ["null", null, undefined],
    ["undefined", undefined, undefined],
  ])("%s", (_n, when, expected) => {
    expect(timedStart(when)).toBe(expected);
  });
});
