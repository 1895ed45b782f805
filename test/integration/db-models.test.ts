import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, type Db } from "../../src/db/client.js";
import { closeTestPrisma, deleteGrants, testPrisma, uniqueId } from "../support/db.js";

// Every model and every field through the generated client, against the migrated database.

let db: Db;
const grants: string[] = [];
const deliveries: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newGrantId(): string {
  const id = uniqueId("grant");
  grants.push(id);
  return id;
}

async function makeGrant(overrides: Partial<Prisma.GrantUncheckedCreateInput> = {}) {
  return db.grant.create({
    data: { id: newGrantId(), email: "ada@example.com", provider: "google", timeZone: "Europe/Berlin", ...overrides },
  });
}

function uniqueViolation(err: unknown): void {
  expect(err).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  expect((err as Prisma.PrismaClientKnownRequestError).code).toBe("P2002");
}

beforeAll(async () => {
  db = await testPrisma();
});

afterAll(async () => {
  await deleteGrants(db, grants);
  if (deliveries.length) await db.webhookDelivery.deleteMany({ where: { id: { in: deliveries } } });
  await closeTestPrisma();
});

describe("Grant", () => {
  it("creates with defaults and reads every field back", async () => {
    const before = Date.now();
    const g = await makeGrant();
    expect(g).toEqual({
      id: g.id,
      email: "ada@example.com",
      provider: "google",
      timeZone: "Europe/Berlin",
      timeZoneSource: "default",
      calendarId: "primary",
      status: "valid",
      statusReason: null,
      statusChangedAt: expect.any(Date),
      sendHour: 18,
      enabled: true,
      sentCheckOff: null,
      policy: null,
      locale: null,
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
    });
    for (const d of [g.statusChangedAt, g.createdAt, g.updatedAt]) {
      expect(d.getTime()).toBeGreaterThanOrEqual(before - 5_000);
      expect(d.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
    }
    const again = await db.grant.findUniqueOrThrow({ where: { id: g.id } });
    expect(again).toEqual(g);
  });

  it("stores explicit values, every enum value, and moves updatedAt on update", async () => {
    const changed = new Date("2026-03-29T01:30:00.123Z");
    const g = await makeGrant({
      email: "grace@example.org",
      provider: "microsoft",
      timeZone: "America/New_York",
      timeZoneSource: "override",
      calendarId: "cal_123",
      status: "needs_reauth",
      statusReason: "401 from Nylas",
      statusChangedAt: changed,
      sendHour: 0,
      enabled: false,
    });
    expect(g).toMatchObject({
      email: "grace@example.org",
      provider: "microsoft",
      timeZone: "America/New_York",
      timeZoneSource: "override",
      calendarId: "cal_123",
      status: "needs_reauth",
      statusReason: "401 from Nylas",
      sendHour: 0,
      enabled: false,
    });
    expect(g.statusChangedAt.toISOString()).toBe("2026-03-29T01:30:00.123Z");

    await sleep(15);
    const revoked = await db.grant.update({
      where: { id: g.id },
      data: { status: "revoked", sendHour: 23, enabled: true, statusReason: null },
    });
    expect(revoked.status).toBe("revoked");
    expect(revoked.sendHour).toBe(23);
    expect(revoked.statusReason).toBeNull();
    expect(revoked.updatedAt.getTime()).toBeGreaterThan(g.updatedAt.getTime());
    expect(revoked.createdAt).toEqual(g.createdAt);

    const valid = await db.grant.update({ where: { id: g.id }, data: { status: "valid" } });
    expect(valid.status).toBe("valid");
    expect(await db.grant.count({ where: { id: g.id, status: "valid", enabled: true } })).toBe(1);
  });

  it("keeps millisecond precision of timestamptz(3) and drops finer digits", async () => {
    const g = await makeGrant({ statusChangedAt: new Date("2026-10-25T00:59:59.999Z") });
    const read = await db.grant.findUniqueOrThrow({ where: { id: g.id } });
    expect(read.statusChangedAt.toISOString()).toBe("2026-10-25T00:59:59.999Z");
  });

  it("rejects a duplicate id with P2002", async () => {
    const g = await makeGrant();
    const err = await db.grant
      .create({ data: { id: g.id, email: "x@example.com", provider: "imap", timeZone: "UTC" } })
      .catch((e: unknown) => e);
    uniqueViolation(err);
  });

  it("rejects a status outside the enum", async () => {
    const err = await db.grant
      .create({
        data: { id: newGrantId(), email: "x@example.com", provider: "imap", timeZone: "UTC", status: "bogus" as never },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it("deletes", async () => {
    const g = await makeGrant();
    await db.grant.delete({ where: { id: g.id } });
    expect(await db.grant.findUnique({ where: { id: g.id } })).toBeNull();
  });
});

describe("Reminder", () => {
  it("creates with BigInt id, JSON recipients and defaults; updates and deletes", async () => {
    const g = await makeGrant();
    const eventStart = new Date("2026-11-24T09:00:00.000Z");
    const recipients = [{ name: "Grace Hopper", email: "grace@example.org" }, { email: "alan@example.com" }];
    const marker = uniqueId("mk");
    const r = await db.reminder.create({
      data: { grantId: g.id, eventId: "evt_1", eventStart, day: "2026-11-24", recipients, marker },
    });
    expect(typeof r.id).toBe("bigint");
    expect(r).toEqual({
      id: r.id,
      grantId: g.id,
      eventId: "evt_1",
      eventStart,
      day: "2026-11-24",
      title: "",
      recipients,
      audience: "",
      marker,
      status: "claimed",
      messageId: null,
      attempts: 0,
      lastError: null,
      claimedAt: expect.any(Date),
      composedAt: null,
      sentAt: null,
      updatedAt: expect.any(Date),
      kind: "reminder",
    });

    const second = await db.reminder.create({
      data: {
        grantId: g.id,
        eventId: "evt_2",
        eventStart,
        day: "2026-11-24",
        recipients: [],
        marker: uniqueId("mk"),
        title: "Standup",
      },
    });
    expect(second.id).toBeGreaterThan(r.id);
    expect(second.title).toBe("Standup");
    expect(second.recipients).toEqual([]);

    await sleep(15);
    const sentAt = new Date();
    const sent = await db.reminder.update({
      where: { id: r.id },
      data: {
        status: "sent",
        messageId: "msg_1",
        attempts: { increment: 1 },
        sentAt,
        lastError: "transient 429, retried",
      },
    });
    expect(sent).toMatchObject({
      status: "sent",
      messageId: "msg_1",
      attempts: 1,
      lastError: "transient 429, retried",
    });
    expect(sent.sentAt?.getTime()).toBe(sentAt.getTime());
    expect(sent.updatedAt.getTime()).toBeGreaterThan(r.updatedAt.getTime());
    expect(sent.claimedAt).toEqual(r.claimedAt);

    for (const status of ["failed", "skipped", "claimed"] as const) {
      expect((await db.reminder.update({ where: { id: r.id }, data: { status } })).status).toBe(status);
    }

    const found = await db.reminder.findUniqueOrThrow({
      where: {
        grantId_eventId_eventStart_kind_audience: {
          grantId: g.id,
          eventId: "evt_1",
          eventStart,
          kind: "reminder",
          audience: "",
        },
      },
    });
    expect(found.id).toBe(r.id);
    expect(await db.reminder.findUniqueOrThrow({ where: { marker } })).toMatchObject({ id: r.id });
    expect(await db.reminder.count({ where: { grantId: g.id, day: "2026-11-24" } })).toBe(2);

    await db.reminder.delete({ where: { id: second.id } });
    expect(await db.reminder.findUnique({ where: { id: second.id } })).toBeNull();
  });

  it("stores nested JSON and JSON scalars", async () => {
    const g = await makeGrant();
    const values: Prisma.InputJsonValue[] = [
      { to: [{ email: "a@b.c" }], meta: { n: 1, ok: true, nested: [1, "two", null] } },
      "just text",
      42,
      true,
    ];
    for (const [i, v] of values.entries()) {
      const r = await db.reminder.create({
        data: {
          grantId: g.id,
          eventId: `json_${i}`,
          eventStart: new Date(),
          day: "2026-01-01",
          recipients: v,
          marker: uniqueId("mk"),
        },
      });
      expect((await db.reminder.findUniqueOrThrow({ where: { id: r.id } })).recipients).toEqual(v);
    }
  });

  it("claims once per (grant, event, start): a second claim raises P2002, a moved meeting is a new reminder", async () => {
    const g = await makeGrant();
    const start = new Date("2026-11-24T10:00:00.000Z");
    const data = { grantId: g.id, eventId: "evt_same", eventStart: start, day: "2026-11-24", recipients: [] };
    await db.reminder.create({ data: { ...data, marker: uniqueId("mk") } });
    const err = await db.reminder.create({ data: { ...data, marker: uniqueId("mk") } }).catch((e: unknown) => e);
    uniqueViolation(err);

    const moved = await db.reminder.create({
      data: { ...data, eventStart: new Date("2026-11-24T11:00:00.000Z"), marker: uniqueId("mk") },
    });
    expect(moved.eventId).toBe("evt_same");

    // The same event at the same start for ANOTHER grant is fine.
    const other = await makeGrant();
    await db.reminder.create({ data: { ...data, grantId: other.id, marker: uniqueId("mk") } });

    // A message of its own to one recipient is another row; its second claim is refused too.
    const own = { ...data, audience: "b@example.com" };
    await db.reminder.create({ data: { ...own, marker: uniqueId("mk") } });
    uniqueViolation(await db.reminder.create({ data: { ...own, marker: uniqueId("mk") } }).catch((e: unknown) => e));
  });

  it("keeps markers unique across the ledger (P2002)", async () => {
    const g = await makeGrant();
    const marker = uniqueId("mk");
    await db.reminder.create({
      data: { grantId: g.id, eventId: "m1", eventStart: new Date(), day: "2026-01-01", recipients: [], marker },
    });
    const err = await db.reminder
      .create({
        data: { grantId: g.id, eventId: "m2", eventStart: new Date(), day: "2026-01-01", recipients: [], marker },
      })
      .catch((e: unknown) => e);
    uniqueViolation(err);
  });

  it("refuses a reminder for an unknown grant (foreign key)", async () => {
    const err = await db.reminder
      .create({
        data: {
          grantId: uniqueId("nogrant"),
          eventId: "e",
          eventStart: new Date(),
          day: "2026-01-01",
          recipients: [],
          marker: uniqueId("mk"),
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect((err as Prisma.PrismaClientKnownRequestError).code).toBe("P2003");
  });
});

describe("Run", () => {
  it("creates with defaults, fills every field, enforces one run per (grant, day), upserts and deletes", async () => {
    const g = await makeGrant();
    const before = Date.now();
    const run = await db.run.create({ data: { grantId: g.id, day: "2026-11-24", timeZone: "Europe/Berlin" } });
    expect(typeof run.id).toBe("bigint");
    expect(run).toEqual({
      id: run.id,
      grantId: g.id,
      day: "2026-11-24",
      status: "queued",
      jobId: null,
      timeZone: "Europe/Berlin",
      timeZoneSource: null,
      windowStart: null,
      windowEnd: null,
      meetingsSeen: 0,
      remindersSent: 0,
      remindersFailed: 0,
      remindersUncertain: 0,
      remindersSkipped: 0,
      skippedByReason: {},
      attempts: 0,
      lastError: null,
      enqueuedAt: expect.any(Date),
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      sweptAt: null,
    });
    expect(run.enqueuedAt.getTime()).toBeGreaterThanOrEqual(before - 5_000);

    const windowStart = new Date("2026-11-23T23:00:00.000Z");
    const windowEnd = new Date("2026-11-24T23:00:00.000Z");
    const startedAt = new Date();
    const running = await db.run.update({
      where: { id: run.id },
      data: { status: "running", jobId: "job:1", windowStart, windowEnd, startedAt, attempts: { increment: 1 } },
    });
    expect(running).toMatchObject({
      status: "running",
      jobId: "job:1",
      windowStart,
      windowEnd,
      startedAt,
      attempts: 1,
    });

    const done = await db.run.update({
      where: { grantId_day: { grantId: g.id, day: "2026-11-24" } },
      data: {
        status: "completed",
        meetingsSeen: 5,
        remindersSent: 3,
        remindersFailed: 1,
        remindersSkipped: 1,
        skippedByReason: { all_day: 1 },
        finishedAt: new Date(startedAt.getTime() + 1234),
        durationMs: 1234,
        lastError: "one send failed",
      },
    });
    expect(done).toMatchObject({
      status: "completed",
      meetingsSeen: 5,
      remindersSent: 3,
      remindersFailed: 1,
      remindersSkipped: 1,
      skippedByReason: { all_day: 1 },
      durationMs: 1234,
      lastError: "one send failed",
    });
    expect(done.finishedAt?.getTime()).toBe(startedAt.getTime() + 1234);

    for (const status of ["failed", "needs_reauth", "queued"] as const) {
      expect((await db.run.update({ where: { id: run.id }, data: { status } })).status).toBe(status);
    }

    const err = await db.run
      .create({ data: { grantId: g.id, day: "2026-11-24", timeZone: "Europe/Berlin" } })
      .catch((e: unknown) => e);
    uniqueViolation(err);

    const next = await db.run.upsert({
      where: { grantId_day: { grantId: g.id, day: "2026-11-25" } },
      create: { grantId: g.id, day: "2026-11-25", timeZone: "Europe/Berlin" },
      update: {},
    });
    expect(next.id).toBeGreaterThan(run.id);
    expect(await db.run.count({ where: { status: "queued", day: "2026-11-25", grantId: g.id } })).toBe(1);

    await db.run.delete({ where: { id: next.id } });
    expect(await db.run.findUnique({ where: { id: next.id } })).toBeNull();
  });
});

describe("WebhookDelivery", () => {
  it("creates with a default receivedAt, reads, updates, dedupes and deletes", async () => {
    const id = uniqueId("wh");
    deliveries.push(id);
    const d = await db.webhookDelivery.create({ data: { id, type: "grant.expired", grantId: "g_missing_is_fine" } });
    expect(d).toEqual({ id, type: "grant.expired", grantId: "g_missing_is_fine", receivedAt: expect.any(Date) });

    const err = await db.webhookDelivery.create({ data: { id, type: "grant.expired" } }).catch((e: unknown) => e);
    uniqueViolation(err);

    const updated = await db.webhookDelivery.update({ where: { id }, data: { grantId: null, type: "grant.deleted" } });
    expect(updated).toMatchObject({ grantId: null, type: "grant.deleted" });
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id } })).toEqual(updated);

    // createMany + skipDuplicates is the idempotent insert the webhook handler can use.
    const res = await db.webhookDelivery.createMany({ data: [{ id, type: "grant.deleted" }], skipDuplicates: true });
    expect(res.count).toBe(0);

    await db.webhookDelivery.delete({ where: { id } });
    expect(await db.webhookDelivery.findUnique({ where: { id } })).toBeNull();
  });
});

describe("cascades", () => {
  it("deleting a grant deletes its reminders and runs, and leaves other grants' rows", async () => {
    const g = await makeGrant();
    const keep = await makeGrant();
    for (const grant of [g, keep]) {
      await db.reminder.create({
        data: {
          grantId: grant.id,
          eventId: "c1",
          eventStart: new Date(),
          day: "2026-01-01",
          recipients: [],
          marker: uniqueId("mk"),
        },
      });
      await db.run.create({ data: { grantId: grant.id, day: "2026-01-01", timeZone: "UTC" } });
    }
    const withRelations = await db.grant.findUniqueOrThrow({
      where: { id: g.id },
      include: { reminders: true, runs: true },
    });
    expect(withRelations.reminders).toHaveLength(1);
    expect(withRelations.runs).toHaveLength(1);

    await db.grant.delete({ where: { id: g.id } });
    expect(await db.reminder.count({ where: { grantId: g.id } })).toBe(0);
    expect(await db.run.count({ where: { grantId: g.id } })).toBe(0);
    expect(await db.reminder.count({ where: { grantId: keep.id } })).toBe(1);
    expect(await db.run.count({ where: { grantId: keep.id } })).toBe(1);
  });

  it("renaming a grant id carries its reminders and runs along (ON UPDATE CASCADE)", async () => {
    const g = await makeGrant();
    await db.reminder.create({
      data: {
        grantId: g.id,
        eventId: "u1",
        eventStart: new Date(),
        day: "2026-01-01",
        recipients: [],
        marker: uniqueId("mk"),
      },
    });
    await db.run.create({ data: { grantId: g.id, day: "2026-01-01", timeZone: "UTC" } });
    const newId = newGrantId();
    await db.grant.update({ where: { id: g.id }, data: { id: newId } });
    expect(await db.reminder.count({ where: { grantId: newId } })).toBe(1);
    expect(await db.run.count({ where: { grantId: newId } })).toBe(1);
  });
});
