import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markGrantRevoked } from "../../src/grants/status.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { addDays, localDate } from "../../src/time/window.js";
import { uniqueId } from "../support/db.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// Several connected users in one meeting (the same iCalendar UID and start on each calendar):
// one grant reminds it, the others record covered_by_other_grant, and each person gets one
// message. Real Redis and Postgres, the sandbox as Nylas, the worker as deployed.
describe("a meeting several connected users are in", () => {
  let p: Pipeline;
  const now = new Date();
  const day = addDays(localDate("UTC", now), 1);
  // Tomorrow 15:00 UTC: inside the day every grant (all on UTC) runs for.
  const start = Date.parse(`${day}T15:00:00Z`) / 1000;
  const tag = uniqueId("m")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
  const address = (who: string) => `${who}.${tag}@example.com`;

  /** The same meeting on the calendar of each grant given. */
  const shareMeeting = (icalUid: string, organizer: string, people: string[], grantIds: string[]) => {
    for (const grantId of grantIds)
      p.sandbox.addEvent(grantId, {
        title: `Review ${icalUid}`,
        when: { object: "timespan", start_time: start, end_time: start + 1800 },
        organizer: { email: organizer },
        participants: [organizer, ...people].map((email) => ({ email, status: "yes" })),
        ical_uid: icalUid,
      });
  };
  /** The reminders of the meeting each address received (to, cc or bcc). */
  const receivedBy = (icalUid: string) => {
    const counts = new Map<string, number>();
    for (const m of p.sandbox.sentMessages().filter((x) => x.subject.includes(icalUid)))
      for (const to of [...m.to, ...m.cc, ...m.bcc])
        counts.set(to.toLowerCase(), (counts.get(to.toLowerCase()) ?? 0) + 1);
    return Object.fromEntries(counts);
  };
  const senders = (icalUid: string) =>
    p.sandbox
      .sentMessages()
      .filter((x) => x.subject.includes(icalUid))
      .map((m) => m.grantId);
  const runOf = (grantId: string) => p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });
  const tick = async () => {
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 50, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);
  };

  beforeAll(async () => {
    p = await startPipeline();
    await p.startWorker();
  });
  afterAll(async () => {
    await p.close();
  });

  it("the organiser's grant sends; an attendee's grant (policy all) records covered_by_other_grant", async () => {
    const uid = `uid-a-${tag}@example.com`;
    const org = address("org");
    const ann = address("ann");
    const people = [ann, address("bob"), address("cat")];
    // The attendee's grant has the smaller id: the organiser's grant wins all the same.
    const a = p.sandbox.addGrant({ id: `z-${tag}`, email: org, timezone: "UTC" }).id;
    const b = p.sandbox.addGrant({ id: `a-${tag}`, email: ann, timezone: "UTC" }).id;
    shareMeeting(uid, org, people, [a, b]);
    await p.sync();
    await p.db.grant.update({ where: { id: b }, data: { policy: "all" } });

    await tick();

    expect(senders(uid)).toEqual([a]);
    expect(receivedBy(uid)).toEqual(Object.fromEntries(people.map((e) => [e, 1])));
    expect(await runOf(a)).toMatchObject({ status: "completed", remindersSent: 1, remindersSkipped: 0 });
    expect(await runOf(b)).toMatchObject({
      status: "completed",
      remindersSent: 0,
      meetingsSeen: 1,
      remindersSkipped: 1,
      skippedByReason: { covered_by_other_grant: 1 },
    });
    expect(await p.db.reminder.count({ where: { grantId: b } })).toBe(0);
  });

  it("with the organiser's grant not connected, the attendee grant with the smaller id sends, once", async () => {
    const uid = `uid-b-${tag}@example.com`;
    const org = address("org2");
    const ann = address("ann2");
    const bob = address("bob2");
    const dan = address("dan2");
    const a = p.sandbox.addGrant({ id: `a0-${tag}`, email: org, timezone: "UTC" }).id;
    const b = p.sandbox.addGrant({ id: `b1-${tag}`, email: ann, timezone: "UTC" }).id;
    const c = p.sandbox.addGrant({ id: `c2-${tag}`, email: bob, timezone: "UTC" }).id;
    shareMeeting(uid, org, [ann, bob, dan], [a, b, c]);
    await p.sync();
    await markGrantRevoked(p.db, a, "test: the organiser disconnected");
    for (const id of [b, c]) await p.db.grant.update({ where: { id }, data: { policy: "all" } });

    await tick();

    expect(senders(uid)).toEqual([b]);
    // The sender's reminder goes to everyone but its own user (select.ts never reminds the user).
    expect(receivedBy(uid)).toEqual({ [org]: 1, [bob]: 1, [dan]: 1 });
    expect(await runOf(b)).toMatchObject({ status: "completed", remindersSent: 1 });
    expect(await runOf(c)).toMatchObject({
      status: "completed",
      remindersSent: 0,
      skippedByReason: { covered_by_other_grant: 1 },
    });
    // A revoked grant is not queued at all.
    expect(await p.db.run.count({ where: { grantId: a } })).toBe(0);
  });

  it("a meeting only one connected user is in is not covered", async () => {
    const uid = `uid-c-${tag}@example.com`;
    const solo = address("solo");
    const guest = address("guest");
    const s = p.sandbox.addGrant({ id: `s-${tag}`, email: solo, timezone: "UTC" }).id;
    shareMeeting(uid, solo, [guest], [s]);
    await p.sync();

    await tick();

    expect(senders(uid)).toEqual([s]);
    expect(receivedBy(uid)).toEqual({ [guest]: 1 });
    expect((await runOf(s)).skippedByReason).toEqual({});
  });
});
