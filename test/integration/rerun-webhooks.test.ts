import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { NylasApi } from "../../src/nylas/client.js";
import { suppress } from "../../src/optout/store.js";
import { clockNow, startClock } from "../../src/time/clock.js";
import { addDays, localDate, nextLocalDay } from "../../src/time/window.js";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import { webhookJobId, type WebhookResult } from "../../src/webhooks/queue.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { addMeeting, at, mail, openJobs, runDay, runRerun, runStatus, type DayDeps } from "../support/changes.js";
import { startWebHarness, type WebHarness } from "../e2e/support.js";

const ZONE = "Europe/Berlin";
/**
 * The calendar clock (the worker runs in this process): noon in Berlin two days ahead, well
 * before the send hour, so a grant brought in by its grant.created has no missed day queued.
 */
const NOON = `${addDays(localDate("UTC", new Date()), 2)}T10:00:00Z`;

/**
 * Meetings that change after the run, end to end: the sandbox's signed event.* notifications
 * reach the worker's real web app (a destination registered through POST /v3/webhooks), the
 * webhooks worker queues a debounced re-run of the grant's completed next day, the runs
 * worker re-runs it against the sandbox, and the sandbox's mailbox shows what went out.
 */
describe("meetings that change after the run (event.* webhooks)", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  let worker: WorkerApp;
  let d: DayDeps;
  const grants: string[] = [];
  const seen = new Set<string>();

  beforeAll(async () => {
    startClock(new Date(NOON));
    h = await startWebHarness();
    const first = await h.server();
    await first.listen({ port: 0, host: "127.0.0.1" });
    const port = (first.server.address() as AddressInfo).port;
    const res = await fetch(`${h.sandbox.url}/v3/webhooks`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sandbox.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        webhook_url: `http://127.0.0.1:${port}/webhooks/nylas`,
        trigger_types: ["grant.created", "event.created", "event.updated", "event.deleted"],
      }),
    });
    expect(res.status).toBe(200);
    const secret = ((await res.json()) as { data: { webhook_secret: string } }).data.webhook_secret;
    await first.close();
    app = await h.server({ webhooks: { secret } });
    await app.listen({ port, host: "127.0.0.1" });
    // The worker dyno: runs and webhook jobs of the harness's queues (same prefix).
    worker = await startWorkerApp(h.config, h.log, { db: h.db, scheduler: false });
    const nylas = new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url, timeout: 5 });
    d = { db: h.db, queue: h.runsQueue, sandbox: h.sandbox, nylas };
  });
  afterAll(async () => {
    startClock(undefined);
    await worker?.close(2000);
    if (h) {
      await h.db.webhookDelivery.deleteMany({ where: { grantId: { in: grants } } });
      await h.db.suppression.deleteMany({ where: { recipient: "dan@example.com" } });
      await deleteGrants(h.db, grants);
      await h.close();
    }
  });

  /** Every notification of the grant delivered since the last call, and its webhook job's result. */
  const handled = async (grantId: string): Promise<(WebhookResult & { type: string })[]> => {
    expect(await h.sandbox.webhooks.flush({ expedite: true })).toMatchObject({ idle: true, pending: 0 });
    const fresh = h.sandbox.webhooks.deliveries({ grantId }).filter((n) => !seen.has(n.notificationId));
    const out: (WebhookResult & { type: string })[] = [];
    for (const n of fresh) {
      seen.add(n.notificationId);
      expect(n.attempts.map((a) => a.status)).toEqual([200]);
      const result = await vi.waitFor(
        async () => {
          const job = await h.webhooksQueue.getJob(webhookJobId(n.notificationId));
          if (job && (await job.getState()) === "failed") throw new Error(`webhook job failed: ${job.failedReason}`);
          expect(job?.returnvalue).toBeTruthy();
          return job!.returnvalue;
        },
        { timeout: 15_000, interval: 25 },
      );
      out.push({ type: n.type, ...result });
    }
    return out;
  };

  /** A grant brought in by its grant.created, with tomorrow's run completed over `setUp`'s meetings. */
  const grantWithCompletedDay = async (setUp: (grantId: string, day: string) => void) => {
    const g = h.sandbox.addGrant({ email: `${uniqueId("rr")}@example.com`.toLowerCase(), timezone: ZONE });
    grants.push(g.id);
    expect(await handled(g.id)).toMatchObject([{ type: "grant.created", outcome: "applied", change: "created" }]);
    const day = nextLocalDay(ZONE, clockNow());
    setUp(g.id, day);
    // Before the run, a change needs nothing: the run reads it.
    for (const r of await handled(g.id))
      expect(r).toMatchObject({ outcome: "ignored", reason: expect.stringMatching(/^run not settled \(none\)/) });
    await runDay(d, g.id, day);
    return { grantId: g.id, day };
  };

  it("a meeting added to tomorrow after the run is sent once by the re-run; ten quick changes give one re-run", async () => {
    const { grantId, day } = await grantWithCompletedDay((g, day) =>
      addMeeting(h.sandbox, g, "Standup", at(ZONE, day, 10)),
    );
    expect((await mail(d, grantId)).map((m) => m.subject)).toEqual([expect.stringMatching(/^Reminder: Standup /)]);

    const review = addMeeting(h.sandbox, grantId, "Review", at(ZONE, day, 14));
    expect(await handled(grantId)).toEqual([
      { type: "event.created", outcome: "applied", change: "rerun", enqueuedDay: day },
    ]);
    expect(await runStatus(h.db, grantId, day)).toBe("queued");
    await runRerun(d, grantId, day);
    expect((await mail(d, grantId)).map((m) => m.subject)).toEqual([
      expect.stringMatching(/^Reminder: Standup /),
      expect.stringMatching(/^Reminder: Review /),
    ]);

    // A burst: ten changes, one re-run job, and nothing sent again (same meetings, same starts).
    for (let i = 1; i <= 10; i++) h.sandbox.updateEvent(grantId, review.id, { title: `Review v${i}` });
    const burst = await handled(grantId);
    expect(burst).toHaveLength(10);
    expect(burst.filter((r) => r.outcome === "applied").length).toBeGreaterThanOrEqual(1);
    expect(await openJobs(d, grantId)).toHaveLength(1);
    await runRerun(d, grantId, day);
    expect(await mail(d, grantId)).toHaveLength(2);
    expect(await openJobs(d, grantId)).toHaveLength(0);
    expect(await h.db.webhookDelivery.count({ where: { grantId } })).toBe(13);
  });

  it("a meeting moved after its reminder gets a new one saying it moved; the old one is not resent", async () => {
    let planning: { id: string } | undefined;
    const { grantId, day } = await grantWithCompletedDay((g, day) => {
      planning = addMeeting(h.sandbox, g, "Planning", at(ZONE, day, 11));
    });
    h.sandbox.moveEvent(grantId, planning!.id, at(ZONE, day, 15));
    expect(await handled(grantId)).toMatchObject([{ type: "event.updated", outcome: "applied", change: "rerun" }]);
    await runRerun(d, grantId, day);

    const sent = await mail(d, grantId);
    expect(sent.map((m) => m.subject)).toEqual([
      expect.stringMatching(/^Reminder: Planning tomorrow at 11:00 AM/),
      expect.stringMatching(/^Reminder: Planning tomorrow at 3:00 PM/),
    ]);
    expect(sent[1]!.body).toContain("Moved: now at 15:00 (was 11:00)");
    expect(sent[1]!.to).toEqual(["bob@example.com"]);
    const rows = await h.db.reminder.findMany({ where: { grantId }, orderBy: { eventStart: "asc" } });
    expect(rows.map((r) => [r.eventStart.getTime() / 1000, r.kind, r.status])).toEqual([
      [at(ZONE, day, 11), "reminder", "sent"],
      [at(ZONE, day, 15), "reminder", "sent"],
    ]);

    // Another change, another re-run: nothing new.
    h.sandbox.updateEvent(grantId, planning!.id, { title: "Planning (room 2)" });
    expect(await handled(grantId)).toMatchObject([{ outcome: "applied", change: "rerun" }]);
    await runRerun(d, grantId, day);
    expect(await mail(d, grantId)).toHaveLength(2);
  });

  it("a meeting moved to another day after its reminder is not called cancelled: no notice now, asked of Nylas", async () => {
    let prep: { id: string } | undefined;
    const { grantId, day } = await grantWithCompletedDay((g, day) => {
      prep = addMeeting(h.sandbox, g, "Offsite prep", at(ZONE, day, 10));
    });
    const since = h.sandbox.log.nextSeq;
    h.sandbox.moveEvent(grantId, prep!.id, at(ZONE, addDays(day, 2), 10));
    expect(await handled(grantId)).toMatchObject([{ type: "event.updated", outcome: "applied", change: "rerun" }]);
    await runRerun(d, grantId, day);

    expect((await mail(d, grantId)).map((m) => m.subject)).toEqual([expect.stringMatching(/^Reminder: Offsite prep /)]);
    expect(await h.db.reminder.count({ where: { grantId, kind: "cancellation" } })).toBe(0);
    // Not listed for the day: the re-run asked Nylas for the event, which is elsewhere, not gone.
    const asked = h.sandbox.requestLog({ grantId, sinceSeq: since }).filter((e) => e.route === "events.find");
    expect(asked.map((e) => e.status)).toEqual([200]);
  });

  it("meetings cancelled or deleted after their reminder get one cancellation notice each; a second re-run sends nothing", async () => {
    const ids: string[] = [];
    const { grantId, day } = await grantWithCompletedDay((g, day) => {
      ids.push(addMeeting(h.sandbox, g, "Sync", at(ZONE, day, 9)).id);
      ids.push(addMeeting(h.sandbox, g, "Retro", at(ZONE, day, 16), ["carol@example.com", "dan@example.com"]).id);
    });
    expect(await mail(d, grantId)).toHaveLength(2);

    const retro = (await mail(d, grantId)).find((m) => m.subject.includes("Retro"))!;
    expect(retro.to).toEqual(["bob@example.com", "carol@example.com", "dan@example.com"]);
    // Dan opted out of this sender after the reminder: the notice does not go to him.
    await suppress(h.db, "dan@example.com", (await h.db.grant.findUniqueOrThrow({ where: { id: grantId } })).email);
    h.sandbox.updateEvent(grantId, ids[0]!, { status: "cancelled" });
    h.sandbox.deleteEvent(grantId, ids[1]!);
    const results = await handled(grantId);
    expect(results.map((r) => r.type)).toEqual(["event.updated", "event.deleted"]);
    await runRerun(d, grantId, day);

    // Sent concurrently: in no particular order.
    const notices = (await mail(d, grantId)).slice(2).sort((x, y) => (x.subject < y.subject ? -1 : 1));
    expect(notices.map((m) => [m.subject, m.to])).toEqual([
      [expect.stringMatching(/^Cancelled: Retro tomorrow at 4:00 PM/), ["bob@example.com", "carol@example.com"]],
      [expect.stringMatching(/^Cancelled: Sync tomorrow at 9:00 AM/), ["bob@example.com"]],
    ]);
    expect(notices[1]!.body).toContain("The meeting you were reminded of is cancelled: Sync");
    expect(await h.db.reminder.count({ where: { grantId, kind: "cancellation", status: "sent" } })).toBe(2);

    // The cancelled event changes again: a re-run, and nothing more goes out.
    h.sandbox.updateEvent(grantId, ids[0]!, { title: "Sync (cancelled)" });
    expect(await handled(grantId)).toMatchObject([{ outcome: "applied", change: "rerun" }]);
    await runRerun(d, grantId, day);
    expect(await mail(d, grantId)).toHaveLength(4);
  });
});
