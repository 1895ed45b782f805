import { afterEach, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { MARKER_HEADER } from "../../src/reminders/sent-check.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// The send's Idempotency-Key on its own, against the sandbox, Redis and Postgres: the
// Sent-folder check is blinded, so only the key can stop a lost send from going out twice.
describe("pipeline: every send carries an Idempotency-Key", () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const now = new Date();

  it("a send whose answer was lost, and that the Sent folder cannot show, is delivered once: the retry is answered from the key", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 1, now } } });
    await p.sync();
    const [grant] = await p.db.grant.findMany({ where: { id: { in: p.sandbox.grantIds() }, status: "valid" } });
    const grantId = grant!.id;
    // The first send goes out, then its connection is cut without an answer; and the grant's
    // messages come back without headers (as Microsoft's Sent folder does), so the marker
    // search finds nothing and the worker sends again.
    p.sandbox.injectFault({ kind: "drop_after", count: 1, grantId, routeClass: "send" });
    p.sandbox.injectFault({ kind: "hide_headers", count: null, grantId });
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    const log = p.sandbox.requestLog({ grantId });
    const sends = log.filter((e) => e.route === "messages.send");
    expect(sends.filter((e) => e.note === "dropped_after")).toHaveLength(1);
    // The Sent-folder check ran, blind, and found nothing ...
    expect(log.some((e) => e.route === "messages.list" && e.note === "headers_hidden")).toBe(true);
    expect(p.sink.find(/found in Sent folder/)).toHaveLength(0);
    expect(p.sink.find(/reminder send uncertain/)).toHaveLength(1);
    // ... so the reminder was sent again, with the same key and payload: Nylas answered with
    // the first answer (Idempotent-Response: true), and nothing went out a second time.
    const replays = sends.filter((e) => e.note === "idempotent_replay");
    expect(replays).toHaveLength(1);
    expect(replays[0]!.status).toBe(200);
    expect(p.sink.find(/Idempotent-Response/)).toHaveLength(1);
    expect(p.sandbox.counters().idempotentReplays).toBe(1);

    const report = await p.check(now);
    expect(report).toMatchObject({ ok: true, duplicates: [], missing: [] });
    const sent = p.sandbox.sentMessages({ grantId });
    // One message per expected reminder, and per recipient of a meeting with hidden guests.
    const messages = p.sandbox
      .expectedReminders({ now, grantIds: [grantId] })
      .reduce((n, e) => n + (e.individual ? e.recipients.length : 1), 0);
    expect(sent).toHaveLength(messages);
    // Every reminder, the lost one included, is marked sent with the id of its one message.
    for (const m of sent) {
      const marker = m.customHeaders.find((h) => h.name === MARKER_HEADER)!.value;
      expect(await p.db.reminder.findUniqueOrThrow({ where: { marker } })).toMatchObject({
        status: "sent",
        messageId: m.messageId,
      });
    }
  });
});
