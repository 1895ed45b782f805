import type { AddressInfo } from "node:net";
import type { Worker } from "bullmq";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeliveryRecord } from "nylas-sandbox";
import { NylasApi } from "../../src/nylas/client.js";
import { clockNow, startClock } from "../../src/time/clock.js";
import { addDays, localDate } from "../../src/time/window.js";
import { webhookJobId, type WebhookJobData, type WebhookResult } from "../../src/webhooks/queue.js";
import { startWebhooksWorker } from "../../src/webhooks/worker.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { startWebHarness, type WebHarness } from "../e2e/support.js";
import { jobResult } from "../support/jobs.js";

/**
 * The worker's real web app as a webhook destination of the sandbox, registered through
 * `POST /v3/webhooks` (so the sandbox's challenge meets the app's GET route), and the
 * sandbox's own deliveries (signed, retried, duplicated, out of order) going through the
 * signed route, the queue and the webhooks worker into Postgres.
 */
/**
 * The calendar clock (the webhooks worker runs in this process): noon in Berlin two days
 * ahead, before the send hour, so a grant.created queues no missed day.
 */
const NOON = `${addDays(localDate("UTC", new Date()), 2)}T10:00:00Z`;

describe("the worker's webhook receiver against the sandbox's deliveries", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  let worker: Worker<WebhookJobData, WebhookResult>;
  let webhookUrl: string;
  const grants: string[] = [];

  beforeAll(async () => {
    startClock(new Date(NOON));
    h = await startWebHarness();
    // The web dyno is up before the destination exists: Nylas checks the URL on creation.
    const first = await h.server();
    await first.listen({ port: 0, host: "127.0.0.1" });
    const port = (first.server.address() as AddressInfo).port;
    webhookUrl = `http://127.0.0.1:${port}/webhooks/nylas`;
    const res = await fetch(`${h.sandbox.url}/v3/webhooks`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sandbox.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        webhook_url: webhookUrl,
        description: "nightly reminders (integration test)",
        trigger_types: [
          "grant.created",
          "grant.updated",
          "grant.deleted",
          "grant.expired",
          "event.created",
          "event.updated",
          "event.deleted",
        ],
      }),
    });
    expect(res.status).toBe(200);
    const secret = ((await res.json()) as { data: { webhook_secret: string } }).data.webhook_secret;
    // As in production: NYLAS_WEBHOOK_SECRET is set from the answer and the dyno restarts.
    await first.close();
    app = await h.server({ webhooks: { secret } });
    await app.listen({ port, host: "127.0.0.1" });
    worker = startWebhooksWorker(h.config, h.log, {
      db: h.db,
      connection: h.redis,
      nylas: new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url, timeout: 5 }),
      runsQueue: h.runsQueue,
    });
  });
  afterAll(async () => {
    startClock(undefined);
    await worker?.close();
    if (h) {
      await h.db.webhookDelivery.deleteMany({ where: { grantId: { in: grants } } });
      await deleteGrants(h.db, grants);
      await h.close();
    }
  });

  /** Every pending delivery done (waits and backoffs skipped); the sandbox's log of them. */
  const delivered = async (grantId: string): Promise<DeliveryRecord[]> => {
    expect(await h.sandbox.webhooks.flush({ expedite: true })).toMatchObject({ idle: true, pending: 0 });
    return h.sandbox.webhooks.deliveries({ grantId });
  };
  const notificationOf = (log: DeliveryRecord[], type: string): DeliveryRecord => {
    const found = log.filter((d) => d.type === type);
    expect(found, type).toHaveLength(1);
    return found[0]!;
  };
  /** Waits until the notification's job is finished and returns its result. */
  const finished = (notificationId: string) =>
    jobResult<WebhookResult>(h.webhooksQueue, webhookJobId(notificationId), { timeout: 10_000, interval: 25 });
  const status = async (id: string) => (await h.db.grant.findUniqueOrThrow({ where: { id } })).status;

  /** A grant the sandbox creates; its grant.created brings it into Postgres. */
  const connectedGrant = async (): Promise<string> => {
    const g = h.sandbox.addGrant({ email: `${uniqueId("wh")}@example.com`.toLowerCase(), timezone: "Europe/Berlin" });
    grants.push(g.id);
    const created = notificationOf(await delivered(g.id), "grant.created");
    expect(created.attempts.map((a) => a.status)).toEqual([200]);
    expect(await finished(created.notificationId)).toMatchObject({ outcome: "applied", change: "created" });
    return g.id;
  };

  it("the destination was created through POST /v3/webhooks: the challenge passed against the worker's GET route", () => {
    const overview = h.sandbox.webhooks.overview() as {
      destinations: { webhook_url: string; status: string }[];
      challenges: { url: string; ok: boolean; status: number }[];
    };
    expect(overview.destinations).toMatchObject([{ webhook_url: webhookUrl, status: "active" }]);
    expect(overview.challenges).toMatchObject([{ url: webhookUrl, ok: true, status: 200 }]);
  });

  it("grant.created brings a new grant into Postgres with its calendar's zone", async () => {
    const id = await connectedGrant();
    expect(await h.db.grant.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "valid",
      timeZone: "Europe/Berlin",
    });
  });

  it("a grant invalidated in the sandbox becomes needs_reauth through grant.expired", async () => {
    const id = await connectedGrant();
    h.sandbox.invalidateGrant(id);
    const expired = notificationOf(await delivered(id), "grant.expired");
    expect(expired.attempts.map((a) => a.status)).toEqual([200]);
    expect(await finished(expired.notificationId)).toMatchObject({ outcome: "applied", change: "needs_reauth" });
    expect(await status(id)).toBe("needs_reauth");
    expect(await h.db.webhookDelivery.findUnique({ where: { id: expired.notificationId } })).toMatchObject({
      type: "grant.expired",
      grantId: id,
    });
  });

  it("a grant deleted in the sandbox is revoked through grant.deleted", async () => {
    const id = await connectedGrant();
    h.sandbox.deleteGrant(id);
    const deleted = notificationOf(await delivered(id), "grant.deleted");
    expect(await finished(deleted.notificationId)).toMatchObject({ outcome: "applied", change: "revoked" });
    expect(await status(id)).toBe("revoked");
  });

  it("a notification delivered twice changes nothing the second time: one webhook_deliveries row", async () => {
    const id = await connectedGrant();
    h.sandbox.webhooks.configure({ duplicateProbability: 1 });
    try {
      h.sandbox.invalidateGrant(id);
      const expired = notificationOf(await delivered(id), "grant.expired");
      // Both deliveries reached the route and were accepted.
      expect(expired.attempts.map((a) => [a.duplicate, a.status])).toEqual([
        [false, 200],
        [true, 200],
      ]);
      expect(await finished(expired.notificationId)).toMatchObject({ outcome: "applied", change: "needs_reauth" });
      expect(await h.db.webhookDelivery.count({ where: { id: expired.notificationId } })).toBe(1);
      expect(await status(id)).toBe("needs_reauth");
    } finally {
      h.sandbox.webhooks.configure({ duplicateProbability: 0 });
    }
  });

  /**
   * Holds two notifications and releases them newest first, one at a time (each processed
   * before the next goes), so the worker sees them in the wrong order for certain.
   */
  const outOfOrder = async (id: string, changes: () => void): Promise<[DeliveryRecord, DeliveryRecord]> => {
    h.sandbox.webhooks.configure({ hold: true });
    try {
      changes();
      const held = h.sandbox.webhooks.deliveries({ grantId: id, state: "held" });
      expect(held).toHaveLength(2);
      const [older, newer] = held as [DeliveryRecord, DeliveryRecord];
      for (const d of [newer, older]) {
        expect(h.sandbox.webhooks.release({ order: "reverse", limit: 1 })).toBe(1);
        await delivered(id);
        await finished(d.notificationId);
      }
      return [older, newer];
    } finally {
      h.sandbox.webhooks.configure({ hold: false });
    }
  };

  it("grant.expired, then an older grant.updated: the grant stays needs_reauth (it is invalid at Nylas)", async () => {
    const id = await connectedGrant();
    h.sandbox.invalidateGrant(id);
    await finished(notificationOf(await delivered(id), "grant.expired").notificationId);
    const [updated, expired] = await outOfOrder(id, () => {
      h.sandbox.restoreGrant(id); // the user signs in again (grant.updated) ...
      h.sandbox.invalidateGrant(id); // ... and the grant expires once more (grant.expired)
    });
    expect([updated.type, expired.type]).toEqual(["grant.updated", "grant.expired"]);
    expect(await status(id)).toBe("needs_reauth");
  });

  it("grant.updated (re-auth), then an older grant.expired: the grant stays valid", async () => {
    const id = await connectedGrant();
    const [expired, updated] = await outOfOrder(id, () => {
      h.sandbox.invalidateGrant(id); // the grant expires (grant.expired) ...
      h.sandbox.restoreGrant(id); // ... and the user signs in again (grant.updated)
    });
    expect([expired.type, updated.type]).toEqual(["grant.expired", "grant.updated"]);
    expect(await finished(expired.notificationId)).toMatchObject({ outcome: "ignored" });
    expect(await status(id)).toBe("valid");
  });

  it("event.* notifications are accepted with 200 and handled; with no completed run for tomorrow, nothing is re-run", async () => {
    const id = await connectedGrant();
    const start = Math.floor(clockNow().getTime() / 1000) + 86_400;
    const ev = h.sandbox.addEvent(id, {
      title: "Planning",
      when: { start_time: start, end_time: start + 1800 },
      participants: [{ email: "colleague@example.com" }],
    });
    h.sandbox.updateEvent(id, ev.id, { title: "Planning (moved room)" });
    h.sandbox.moveEvent(id, ev.id, start + 3600);
    h.sandbox.deleteEvent(id, ev.id);
    const log = (await delivered(id)).filter((d) => d.type.startsWith("event."));
    expect(log.map((d) => d.type)).toEqual(["event.created", "event.updated", "event.updated", "event.deleted"]);
    for (const d of log) {
      expect(d.state, d.type).toBe("delivered");
      expect(
        d.attempts.map((a) => a.status),
        d.type,
      ).toEqual([200]);
      expect(await finished(d.notificationId), d.type).toEqual({
        outcome: "ignored",
        reason: "run not settled (none): it will read the change",
      });
    }
    expect(await h.db.webhookDelivery.count({ where: { id: { in: log.map((d) => d.notificationId) } } })).toBe(4);
    expect(await h.runsQueue.count()).toBe(0);
  });
});
