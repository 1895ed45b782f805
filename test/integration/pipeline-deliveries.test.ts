import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { enqueueRuns, reviveRuns } from "../../src/runs/queue.js";
import { startClock } from "../../src/time/clock.js";
import { addDays, localDate } from "../../src/time/window.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// A meeting whose organiser hid the guest list, through the whole worker (sandbox, Redis,
// Postgres): each guest gets a message of their own, none shows another guest's address, a
// second run sends nothing, and a message whose outcome was lost is found again in the Sent
// folder as that guest's own (Google by its marker, Microsoft by subject and recipient).
describe("hidden guest lists: one message per recipient (the real worker)", { timeout: 120_000 }, () => {
  let p: Pipeline;
  const now = new Date();
  const day = addDays(localDate("UTC", now), 1);
  const start = Date.parse(`${day}T10:00:00Z`) / 1000;

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: 0 } });
    await p.startWorker();
  });
  afterEach(() => {
    startClock(undefined);
  });
  afterAll(async () => {
    startClock(undefined);
    await p.close();
  });

  const guests = (tag: string) => ["amy", "Bob", "carol"].map((n) => `${n}.${tag}@example.com`);
  const run = async (grantId: string, again = false) => {
    if (again) await reviveRuns(p.queue, [{ grantId, day }], "backfill");
    else await enqueueRuns(p.queue, [{ grantId, day }], "backfill");
    await waitForIdle(p.queue, 60_000);
  };

  it.each(["google", "microsoft"] as const)(
    "%s: each guest gets their own message, and only once",
    async (provider) => {
      const tag = Math.random().toString(36).slice(2, 10);
      const grantId = p.sandbox.addGrant({ email: `host-${tag}@example.com`, provider, timezone: "UTC" }).id;
      await p.sync();
      const hidden = guests(tag);
      p.sandbox.addEvent(grantId, {
        title: `Hidden-${tag}`,
        when: { object: "timespan", start_time: start, end_time: start + 1800 },
        participants: hidden.map((email) => ({ email, status: "yes" })),
        hide_participants: true,
      });
      const open = [`dan.${tag}@example.com`, `eve.${tag}@example.com`];
      p.sandbox.addEvent(grantId, {
        title: `Open-${tag}`,
        when: { object: "timespan", start_time: start + 3600, end_time: start + 5400 },
        participants: open.map((email) => ({ email, status: "yes" })),
      });

      await run(grantId);
      const sent = p.sandbox.sentMessages({ grantId });
      const ofHidden = sent.filter((m) => m.subject.includes(`Hidden-${tag}`));
      expect(ofHidden.map((m) => m.to).sort()).toEqual(hidden.map((e) => [e]).sort());
      const mailbox = p.sandbox.store.requireGrant(grantId);
      for (const m of ofHidden) {
        expect(m.cc).toEqual([]);
        expect(m.bcc).toEqual([]);
        // Nowhere in the message (recipients, body, headers) is another guest's address.
        const whole = JSON.stringify(mailbox.messagesById.get(m.messageId)).toLowerCase();
        for (const other of hidden.filter((e) => e !== m.to[0])) expect(whole).not.toContain(other.toLowerCase());
      }
      // Each its own marker (the Idempotency-Key).
      const markers = ofHidden.map((m) => m.customHeaders.find((h) => h.name === "X-Reminder-Id")?.value);
      expect(new Set(markers).size).toBe(3);
      // The meeting whose guests see each other: one message to both.
      expect(sent.filter((m) => m.subject.includes(`Open-${tag}`)).map((m) => m.to.sort())).toEqual([open]);

      const rows = await p.db.reminder.findMany({
        where: { grantId },
        orderBy: [{ eventStart: "asc" }, { audience: "asc" }],
      });
      expect(rows.map((r) => [r.audience, r.status])).toEqual([
        ...hidden.map((e) => [e.toLowerCase(), "sent"]).sort(),
        ["", "sent"],
      ]);
      // The run counts messages; its meetings are meetings.
      const runRow = await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });
      expect(runRow).toMatchObject({ status: "completed", remindersSent: 4, meetingsSeen: 2 });

      await run(grantId, true);
      expect(p.sandbox.sentMessages({ grantId })).toHaveLength(sent.length);

      // Bob's send went out but its outcome was lost, and Nylas has forgotten its key: the next
      // run finds Bob's own message in the Sent folder (not Amy's, of the same subject).
      const bob = rows.find((r) => r.audience === hidden[1]!.toLowerCase())!;
      await p.db.$executeRawUnsafe(
        `UPDATE reminders SET status = 'claimed', claimed_at = to_timestamp(0), message_id = NULL, sent_at = NULL
       WHERE id = $1`,
        bob.id,
      );
      p.sandbox.idempotency.reset();
      startClock(new Date(Date.now() + 2 * 3600_000));
      await run(grantId, true);
      expect(p.sandbox.sentMessages({ grantId })).toHaveLength(sent.length);
      const found = await p.db.reminder.findUniqueOrThrow({ where: { id: bob.id } });
      expect(found).toMatchObject({ status: "sent", messageId: bob.messageId });
      expect(p.sink.find(/found in Sent folder/).filter((l) => l.grantId === grantId)).toHaveLength(1);
    },
  );

  it("a hidden meeting cancelled after its reminders: each guest gets a notice of their own, once", async () => {
    const tag = Math.random().toString(36).slice(2, 10);
    const grantId = p.sandbox.addGrant({ email: `host-${tag}@example.com`, provider: "google", timezone: "UTC" }).id;
    await p.sync();
    const hidden = guests(tag);
    const ev = p.sandbox.addEvent(grantId, {
      title: `Panel-${tag}`,
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: hidden.map((email) => ({ email, status: "yes" })),
      hide_participants: true,
    });
    await run(grantId);
    expect(p.sandbox.sentMessages({ grantId })).toHaveLength(3);

    p.sandbox.updateEvent(grantId, ev.id, { status: "cancelled" });
    await reviveRuns(p.queue, [{ grantId, day }], "rerun");
    await waitForIdle(p.queue, 60_000);
    const notices = p.sandbox.sentMessages({ grantId }).filter((m) => m.subject.startsWith("Cancelled:"));
    expect(notices.map((m) => m.to).sort()).toEqual(hidden.map((e) => [e]).sort());
    const mailbox = p.sandbox.store.requireGrant(grantId);
    for (const m of notices) {
      const whole = JSON.stringify(mailbox.messagesById.get(m.messageId)).toLowerCase();
      for (const other of hidden.filter((e) => e !== m.to[0])) expect(whole).not.toContain(other.toLowerCase());
    }
    const rows = await p.db.reminder.findMany({ where: { grantId, kind: "cancellation" } });
    expect(rows.map((r) => [r.audience, r.status]).sort()).toEqual(hidden.map((e) => [e.toLowerCase(), "sent"]).sort());

    // Another re-run: nothing more goes out.
    await reviveRuns(p.queue, [{ grantId, day }], "rerun");
    await waitForIdle(p.queue, 60_000);
    expect(p.sandbox.sentMessages({ grantId })).toHaveLength(6);
  });
});
