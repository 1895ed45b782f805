import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { Ledger, type ClaimInput } from "../../src/reminders/ledger.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";

/** The ledger's two kinds of row (reminder, cancellation notice) and a day's sent rows, on real Postgres. */
describe("reminders ledger: kinds and a day's sent rows", () => {
  let db: Db;
  const grantId = uniqueId("g");
  const day = "2026-12-03";
  const input = (over: Partial<ClaimInput> = {}): ClaimInput => ({
    grantId,
    eventId: "ev-1",
    eventStart: 1_796_000_000,
    day,
    title: "Planning",
    recipients: [{ email: "bob@example.com", name: "Bob" }],
    audience: "",
    ...over,
  });
  const sent = async (ledger: Ledger, i: ClaimInput, messageId: string) => {
    const c = await ledger.claim(i);
    if (c.outcome !== "claimed") throw new Error(`expected a claim, got ${c.outcome}`);
    await ledger.markSent(c.id, messageId);
  };

  beforeAll(async () => {
    db = await testPrisma();
    await db.grant.create({ data: { id: grantId, email: "u@example.com", provider: "google", timeZone: "UTC" } });
  });
  afterAll(async () => {
    await deleteGrants(db, [grantId]);
  });

  it("a cancellation notice is a row of its own beside the reminder of the same event and start, sent once", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    await sent(ledger, input(), "m-reminder");
    const notice = input({ kind: "cancellation" });
    const c = await ledger.claim(notice);
    expect(c).toMatchObject({ outcome: "claimed", attempts: 1, uncertain: false });
    if (c.outcome !== "claimed") return;
    await ledger.markSent(c.id, "m-notice");
    expect(await ledger.claim(notice)).toEqual({ outcome: "done", status: "sent" });
    expect(await ledger.claim(input())).toEqual({ outcome: "done", status: "sent" });
    const rows = await db.reminder.findMany({ where: { grantId, eventId: "ev-1" }, orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.kind, r.status, r.messageId])).toEqual([
      ["reminder", "sent", "m-reminder"],
      ["cancellation", "sent", "m-notice"],
    ]);
  });

  it("claimMany tells the two kinds of one event and start apart in one batch", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const claims = await ledger.claimMany([
      input({ eventId: "ev-2" }),
      input({ eventId: "ev-2", kind: "cancellation" }),
    ]);
    expect(claims.map((c) => c.outcome)).toEqual(["claimed", "claimed"]);
  });

  it("sentOfDay: the day's sent rows, oldest send first, with start, kind, title, recipients and audience", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    await sent(ledger, input({ eventId: "ev-3", eventStart: 1_796_003_600 }), "m-3");
    await ledger.claim(input({ eventId: "ev-4" })); // claimed, not sent: not listed
    await sent(ledger, input({ eventId: "ev-5", day: "2026-12-04" }), "m-5"); // another day
    expect(await ledger.sentOfDay(grantId, day)).toEqual([
      {
        eventId: "ev-1",
        eventStart: 1_796_000_000,
        kind: "reminder",
        title: "Planning",
        recipients: input().recipients,
        audience: "",
      },
      {
        eventId: "ev-1",
        eventStart: 1_796_000_000,
        kind: "cancellation",
        title: "Planning",
        recipients: input().recipients,
        audience: "",
      },
      {
        eventId: "ev-3",
        eventStart: 1_796_003_600,
        kind: "reminder",
        title: "Planning",
        recipients: input().recipients,
        audience: "",
      },
    ]);
  });
});
