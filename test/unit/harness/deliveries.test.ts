import { describe, expect, it } from "vitest";
import {
  compareDeliveries,
  describeReport,
  type ExpectedDelivery,
  type ObservedMessage,
} from "../../../harness/deliveries.js";

// Hand-built batches: subjects are written out here, as a recipient reads them, never made by
// the worker's template. Paris is UTC+1 in November; Kathmandu is UTC+5:45.
const A = "grant-a";
const B = "grant-b";
const at = (iso: string) => Date.parse(iso) / 1000;
// 18:00 in Paris the evening before: "tomorrow" is 24 Nov there.
const EVENING = Date.parse("2026-11-23T17:00:00Z");
const ANN_BOB = ["ann@example.com", "bob@example.com"];

const meeting = (over: Partial<ExpectedDelivery> & Pick<ExpectedDelivery, "eventId">): ExpectedDelivery => ({
  grantId: A,
  title: "Team sync",
  start: at("2026-11-24T08:00:00Z"), // 09:00 CET
  zone: "Europe/Paris",
  recipients: ANN_BOB,
  ...over,
});

let n = 0;
const sent = (subject: string, to: string[], over: Partial<ObservedMessage> = {}): ObservedMessage => ({
  grantId: A,
  messageId: `m${++n}`,
  to,
  subject,
  sentAtMs: EVENING,
  ...over,
});

const key = (e: ExpectedDelivery) => `${e.grantId}|${e.eventId}|${e.start}`;
const clean = { missing: [], duplicates: [], unexpected: [], wrongRecipients: [], twicePerPerson: [] };

describe("compareDeliveries (by grant, subject and recipients; no ledger)", () => {
  const sync = meeting({ eventId: "e-sync" });
  const review = meeting({
    eventId: "e-review",
    title: "Design review",
    start: at("2026-11-24T13:30:00Z"),
    recipients: ["cy@example.com"],
  });
  const syncMsg = () => sent("Reminder: Team sync tomorrow at 9:00 AM CET", ANN_BOB);
  const reviewMsg = () => sent("Reminder: Design review tomorrow at 2:30 PM CET", ["cy@example.com"]);

  it("an exact match is ok", () => {
    const r = compareDeliveries([sync, review], [reviewMsg(), syncMsg()]);
    expect(r).toEqual({ ok: true, expected: 2, delivered: 2, ...clean });
    expect(describeReport(r)).toBe("all 2 expected reminders sent exactly once, nothing else");
  });

  it("a missing send is reported as missing", () => {
    const r = compareDeliveries([sync, review], [syncMsg()]);
    expect(r).toEqual({ ok: false, expected: 2, delivered: 1, ...clean, missing: [review] });
    expect(describeReport(r)).toBe("1/2 expected reminders delivered, 1 missing");
  });

  it("a duplicate is reported with its count", () => {
    const r = compareDeliveries([sync, review], [syncMsg(), reviewMsg(), syncMsg()]);
    expect(r).toEqual({ ok: false, expected: 2, delivered: 2, ...clean, duplicates: [{ key: key(sync), count: 2 }] });
  });

  it("a send to the wrong recipients is recognised as that meeting's, with the wrong recipients", () => {
    const extra = sent("Reminder: Team sync tomorrow at 9:00 AM CET", [...ANN_BOB, "eve@example.com"]);
    const short = sent("Reminder: Design review tomorrow at 2:30 PM CET", ["dan@example.com"]);
    const r = compareDeliveries([sync, review], [extra, short]);
    expect(r).toMatchObject({ ok: false, delivered: 2, missing: [], unexpected: [] });
    expect(r.wrongRecipients).toEqual([
      { key: key(sync), expected: ANN_BOB, got: [...ANN_BOB, "eve@example.com"] },
      { key: key(review), expected: ["cy@example.com"], got: ["dan@example.com"] },
    ]);
  });

  it("an unexpected send (a meeting nobody expects, or no reminder at all) is reported", () => {
    // At the same time as the expected "Team sync", to the same people: the title tells.
    const declined = sent("Reminder: Design review (declined) tomorrow at 9:00 AM CET", ANN_BOB);
    const other = sent("Lunch on Friday?", ["ann@example.com"]);
    const r = compareDeliveries([sync], [syncMsg(), declined, other]);
    expect(r).toEqual({ ok: false, expected: 1, delivered: 1, ...clean, unexpected: [declined, other] });
  });

  it("tells two meetings of the same title and recipients apart by their start", () => {
    const morning = meeting({ eventId: "e-1" });
    const afternoon = meeting({ eventId: "e-2", start: at("2026-11-24T14:00:00Z") }); // 15:00 CET
    const at9 = () => sent("Reminder: Team sync tomorrow at 9:00 AM CET", ANN_BOB);
    const at15 = sent("Reminder: Team sync tomorrow at 3:00 PM CET", ANN_BOB);
    expect(compareDeliveries([morning, afternoon], [at15, at9()]).ok).toBe(true);
    // The morning one twice, the afternoon one never: not "both delivered".
    const r = compareDeliveries([morning, afternoon], [at9(), at9()]);
    expect(r).toMatchObject({ ok: false, missing: [afternoon], duplicates: [{ key: key(morning), count: 2 }] });
    // Right title, a time no meeting has.
    const at930 = sent("Reminder: Team sync tomorrow at 9:30 AM CET", ANN_BOB);
    expect(compareDeliveries([morning], [at930])).toMatchObject({ ok: false, missing: [morning], unexpected: [at930] });
  });

  it("tells the same meeting on another day apart (a window one day off)", () => {
    const wrongDay = sent("Reminder: Team sync on Wed 25 Nov at 9:00 AM CET", ANN_BOB);
    expect(compareDeliveries([sync], [wrongDay])).toMatchObject({ ok: false, missing: [sync], unexpected: [wrongDay] });
    const named = sent("Reminder: Team sync on Tue 24 Nov at 9:00 AM CET", ANN_BOB);
    expect(compareDeliveries([sync], [named]).ok).toBe(true);
    // "tomorrow" is read in the grant's zone from when the mailbox took the message.
    const nextMorning = Date.parse("2026-11-24T07:00:00Z"); // 08:00 on the 24th in Paris
    expect(compareDeliveries([sync], [syncMsg()]).ok).toBe(true);
    expect(compareDeliveries([sync], [{ ...syncMsg(), sentAtMs: nextMorning }]).ok).toBe(false);
    const today = sent("Reminder: Team sync today at 9:00 AM CET", ANN_BOB, { sentAtMs: nextMorning });
    expect(compareDeliveries([sync], [today]).ok).toBe(true);
    // Composed just before the grant's midnight, stored just after it.
    const justAfterMidnight = Date.parse("2026-11-23T23:02:00Z");
    expect(compareDeliveries([sync], [{ ...syncMsg(), sentAtMs: justAfterMidnight }]).ok).toBe(true);
  });

  it("compares emails case-insensitively, ignoring repeats", () => {
    const shoutyTo = ["BOB@Example.com", "Ann@EXAMPLE.com", "bob@example.com"];
    const shouty = sent("Reminder: Team sync tomorrow at 9:00 AM CET", shoutyTo);
    const mixed = { ...review, recipients: ["Cy@Example.com"] };
    const lower = sent("Reminder: Design review tomorrow at 2:30 PM CET", ["cy@example.COM"]);
    expect(compareDeliveries([sync, mixed], [shouty, lower])).toMatchObject({ ok: true, wrongRecipients: [] });
  });

  it("a meeting of one grant sent from another grant is unexpected there and missing here", () => {
    const fromB = sent("Reminder: Team sync tomorrow at 9:00 AM CET", ANN_BOB, { grantId: B });
    const r = compareDeliveries([sync], [fromB]);
    expect(r).toEqual({ ok: false, expected: 1, delivered: 0, ...clean, missing: [sync], unexpected: [fromB] });
    // Both grants with a meeting of that title and time: each needs its own send.
    const syncB = meeting({ eventId: "e-sync", grantId: B });
    expect(compareDeliveries([sync, syncB], [fromB, { ...fromB, messageId: "again" }])).toMatchObject({
      ok: false,
      missing: [sync],
      duplicates: [{ key: key(syncB), count: 2 }],
    });
  });

  it("reads times in the meeting's zone (Kathmandu, +05:45) and titles as a subject line shows them", () => {
    const ktm = meeting({
      eventId: "e-ktm",
      zone: "Asia/Kathmandu",
      start: at("2026-11-24T03:15:00Z"),
      title: "Stand-up\r\n <b>daily</b>\u0007",
    });
    const evening = Date.parse("2026-11-23T13:00:00Z"); // 18:45 in Kathmandu
    const subject = "Reminder: Stand-up <b>daily</b> tomorrow at 9:00 AM Asia/Kathmandu";
    const msg = sent(subject, ANN_BOB, { sentAtMs: evening });
    expect(compareDeliveries([ktm], [msg]).ok).toBe(true);
    const inUtc = { ...msg, subject: "Reminder: Stand-up <b>daily</b> tomorrow at 3:15 AM UTC" };
    expect(compareDeliveries([ktm], [inUtc]).ok).toBe(false);
    // A long title is shortened with an ellipsis so the time fits; the shown part must be its start.
    const long = meeting({ eventId: "e-long", title: `Quarterly planning ${"with everyone ".repeat(40)}end` });
    const shown = "Reminder: Quarterly planning with everyone with everyone… tomorrow at 9:00 AM CET";
    expect(compareDeliveries([long], [sent(shown, ANN_BOB)]).ok).toBe(true);
    expect(compareDeliveries([long], [sent(shown.replace("Quarterly", "Monthly"), ANN_BOB)]).ok).toBe(false);
  });

  it("is pure: the inputs are untouched and the same inputs give the same report", () => {
    const expected = [sync, review];
    const observed = [syncMsg(), syncMsg()];
    const copy = structuredClone({ expected, observed });
    const first = compareDeliveries(expected, observed);
    expect({ expected, observed }).toEqual(copy);
    expect(compareDeliveries(expected, observed)).toEqual(first);
  });
});

describe("compareDeliveries: hidden guests, one message each", () => {
  const PANEL = ["ann@example.com", "bob@example.com", "cy@example.com"];
  const panel = meeting({ eventId: "e-panel", title: "Panel", recipients: PANEL, individual: true });
  const subject = "Reminder: Panel tomorrow at 9:00 AM CET";
  const each = (to: string[]) => to.map((r) => sent(subject, [r]));

  it("is satisfied by one message per recipient, each to that recipient alone", () => {
    const r = compareDeliveries([panel], each([...PANEL].reverse()));
    expect(r).toEqual({ ok: true, expected: 1, delivered: 1, ...clean });
    // Case and repeats inside one address do not matter.
    expect(compareDeliveries([panel], each(["ANN@example.com", "Bob@Example.com", "cy@example.com"])).ok).toBe(true);
  });

  it("one message to everyone is wrong: the guests would see each other", () => {
    const r = compareDeliveries([panel], [sent(subject, PANEL)]);
    expect(r).toMatchObject({ ok: false, missing: [], duplicates: [] });
    expect(r.wrongRecipients).toEqual([{ key: key(panel), expected: PANEL, got: PANEL }]);
  });

  it("a recipient twice is a duplicate; a recipient missed or added is wrong recipients", () => {
    const twice = compareDeliveries([panel], each([...PANEL, "bob@example.com"]));
    expect(twice).toMatchObject({ ok: false, duplicates: [{ key: key(panel), count: 2 }], wrongRecipients: [] });
    const short = compareDeliveries([panel], each(["ann@example.com", "bob@example.com"]));
    expect(short).toMatchObject({ ok: false, missing: [], duplicates: [] });
    expect(short.wrongRecipients).toEqual([
      { key: key(panel), expected: PANEL, got: ["ann@example.com", "bob@example.com"] },
    ]);
    const extra = compareDeliveries([panel], each([...PANEL, "eve@example.com"]));
    expect(extra.wrongRecipients).toEqual([{ key: key(panel), expected: PANEL, got: [...PANEL, "eve@example.com"] }]);
    expect(compareDeliveries([panel], [])).toMatchObject({ ok: false, missing: [panel] });
  });

  it("is not confused by an ordinary meeting of the same title and time", () => {
    const group = meeting({ eventId: "e-group", title: "Panel", recipients: ANN_BOB });
    const r = compareDeliveries([panel, group], [...each(PANEL), sent(subject, ANN_BOB)]);
    expect(r).toEqual({ ok: true, expected: 2, delivered: 2, ...clean });
  });
});

describe("compareDeliveries: one reminder per person per meeting, over all grants", () => {
  // The same meeting on two calendars: Ann's grant (Paris) and Bob's grant (Kathmandu).
  const UID = "shared-1@example.com";
  const start = at("2026-11-24T08:00:00Z"); // 09:00 CET, 13:45 in Kathmandu
  const fromAnn = meeting({ eventId: "ev-a", icalUid: UID, recipients: ["bob@example.com", "cy@example.com"] });
  const fromBob = meeting({
    eventId: "ev-b",
    grantId: B,
    icalUid: UID,
    zone: "Asia/Kathmandu",
    recipients: ["ann@example.com", "cy@example.com"],
  });
  const annMsg = () => sent("Reminder: Team sync tomorrow at 9:00 AM CET", ["bob@example.com", "cy@example.com"]);
  const bobMsg = () =>
    sent("Reminder: Team sync tomorrow at 1:45 PM Asia/Kathmandu", ["ann@example.com", "cy@example.com"], {
      grantId: B,
    });

  it("reports a person reminded by two grants of one meeting, even when each send was expected", () => {
    const r = compareDeliveries([fromAnn, fromBob], [annMsg(), bobMsg()]);
    expect(r).toMatchObject({ ok: false, missing: [], duplicates: [], unexpected: [], wrongRecipients: [] });
    expect(r.twicePerPerson).toEqual([
      { icalUid: UID, start, recipient: "cy@example.com", count: 2, grantIds: [A, B] },
    ]);
    expect(describeReport(r)).toBe(
      "2/2 expected reminders delivered, 1 person(s) reminded more than once of one meeting",
    );
  });

  it("is quiet when the grants' recipients do not overlap, or the meetings differ", () => {
    const bobToAnn = { ...fromBob, recipients: ["ann@example.com"] };
    const toAnn = { ...bobMsg(), to: ["ann@example.com"] };
    expect(compareDeliveries([fromAnn, bobToAnn], [annMsg(), toAnn])).toEqual({
      ok: true,
      expected: 2,
      delivered: 2,
      ...clean,
    });
    // Another meeting (another UID) with the same people: not the same meeting.
    const other = { ...fromBob, icalUid: "other@example.com" };
    expect(compareDeliveries([fromAnn, other], [annMsg(), bobMsg()]).ok).toBe(true);
  });

  it("keys by start too: two occurrences of one series are two meetings", () => {
    const later = meeting({
      eventId: "ev-a2",
      icalUid: UID,
      start: at("2026-11-24T14:00:00Z"),
      recipients: ["bob@example.com", "cy@example.com"],
    });
    const laterMsg = sent("Reminder: Team sync tomorrow at 3:00 PM CET", ["bob@example.com", "cy@example.com"]);
    expect(compareDeliveries([fromAnn, later], [annMsg(), laterMsg]).ok).toBe(true);
  });

  it("counts a duplicate send of one grant too, per person", () => {
    const r = compareDeliveries([fromAnn], [annMsg(), annMsg()]);
    expect(r.duplicates).toEqual([{ key: key(fromAnn), count: 2 }]);
    expect(r.twicePerPerson.map((t) => [t.recipient, t.count, t.grantIds])).toEqual([
      ["bob@example.com", 2, [A]],
      ["cy@example.com", 2, [A]],
    ]);
  });

  it("individual sends count per person as well", () => {
    const hidden = { ...fromAnn, individual: true };
    const one = (r: string) => sent("Reminder: Team sync tomorrow at 9:00 AM CET", [r]);
    const r = compareDeliveries(
      [hidden, fromBob],
      [one("bob@example.com"), one("cy@example.com"), { ...bobMsg(), to: ["ann@example.com"] }],
    );
    expect(r).toMatchObject({ twicePerPerson: [] });
    expect(r.wrongRecipients).toEqual([
      { key: key(fromBob), expected: ["ann@example.com", "cy@example.com"], got: ["ann@example.com"] },
    ]);
    const again = compareDeliveries([hidden, fromBob], [one("bob@example.com"), one("cy@example.com"), bobMsg()]);
    expect(again.ok).toBe(false);
    expect(again.twicePerPerson.map((t) => t.recipient)).toEqual(["cy@example.com"]);
  });
});
