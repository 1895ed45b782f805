import type { Worker } from "bullmq";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NylasApi } from "../../src/nylas/client.js";
import { runJobId } from "../../src/runs/job.js";
import { processWebhook, type WebhookDeps } from "../../src/webhooks/process.js";
import { webhookJobId, type WebhookJobData, type WebhookResult } from "../../src/webhooks/queue.js";
import { signBody } from "../../src/webhooks/signature.js";
import { startWebhooksWorker } from "../../src/webhooks/worker.js";
import { localDate, addDays } from "../../src/time/window.js";
import { clockFrom } from "../../src/time/clock.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { WEBHOOK_VECTOR } from "../fixtures/nylas-webhook-signature.js";
import { startWebHarness, WEBHOOK_SECRET, type WebHarness } from "../e2e/support.js";
import { jobResult } from "../support/jobs.js";

function body(type: string, grantId: string, opts: { id?: string; time?: number } = {}) {
  return {
    specversion: "1.0",
    type,
    source: "/nylas/passthru",
    id: opts.id ?? uniqueId("n"),
    time: opts.time ?? Math.floor(Date.now() / 1000),
    webhook_delivery_attempt: 1,
    data: { application_id: "app", object: { grant_id: grantId, provider: "google", code: 25009 } },
  };
}

const WORKER_CLOCK_START = "2026-06-10T12:00:00Z";
const workerClock = clockFrom(Date.parse(WORKER_CLOCK_START));

describe("webhook jobs against Postgres, Redis and the sandbox", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  let worker: Worker<WebhookJobData, WebhookResult>;
  let deps: WebhookDeps;
  const grants: string[] = [];

  /** A grant known to the sandbox and to the database. */
  const grant = async (zone = "UTC", sendHour = 0) => {
    const email = `${uniqueId("u")}@example.com`.toLowerCase();
    const g = h.sandbox.addGrant({ email, timezone: zone });
    grants.push(g.id);
    await h.db.grant.create({
      data: {
        id: g.id,
        email,
        provider: "google",
        timeZone: zone,
        sendHour,
        statusChangedAt: new Date(Date.now() - 60_000),
      },
    });
    return g.id;
  };
  const deliver = async (b: ReturnType<typeof body>) => {
    const raw = JSON.stringify(b);
    const res = await app.inject({
      method: "POST",
      url: "/webhooks/nylas",
      payload: raw,
      headers: { "content-type": "application/json", "x-nylas-signature": signBody(raw, WEBHOOK_SECRET) },
    });
    expect(res.statusCode).toBe(200);
    return res;
  };
  /** Waits until the notification's job is finished and returns its result. */
  const finished = (notificationId: string) =>
    jobResult<WebhookResult>(h.webhooksQueue, webhookJobId(notificationId), { timeout: 10_000, interval: 50 });
  const status = async (id: string) => (await h.db.grant.findUniqueOrThrow({ where: { id } })).status;

  beforeAll(async () => {
    h = await startWebHarness();
    app = await h.server();
    const nylas = new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url, timeout: 5 });
    // The worker's calendar clock starts at a fixed noon (UTC), so the day it queues does not
    // depend on the date the suite runs, nor change if midnight passes mid-test.
    worker = startWebhooksWorker(h.config, h.log, {
      db: h.db,
      connection: h.redis,
      nylas,
      runsQueue: h.runsQueue,
      now: () => new Date(workerClock()),
    });
    deps = {
      db: h.db,
      nylas,
      runsQueue: h.runsQueue,
      log: h.log,
      settings: { defaultTimeZone: "UTC", defaultSendHour: 18 },
    };
  });
  afterAll(async () => {
    await worker.close();
    await deleteGrants(h.db, grants);
    await h.close();
  });

  it("accepts the body signed by openssl (the fixture's known answer), and not one bit off", async () => {
    // Keyed with the fixture's secret: the route must agree with openssl, not only with signBody.
    const kat = await h.server({ webhooks: { secret: WEBHOOK_VECTOR.secret } });
    const post = (signature: string) =>
      kat.inject({
        method: "POST",
        url: "/webhooks/nylas",
        payload: Buffer.from(WEBHOOK_VECTOR.body, "utf8"),
        headers: { "content-type": "application/json", "x-nylas-signature": signature },
      });
    const offByOne = Buffer.from(WEBHOOK_VECTOR.signature, "hex");
    offByOne[31]! ^= 1;
    expect((await post(offByOne.toString("hex"))).statusCode).toBe(401);
    const res = await post(WEBHOOK_VECTOR.signature);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "accepted" });
    // The queued notification is the fixture's own (its grant is unknown here: nothing to do).
    const id = (JSON.parse(WEBHOOK_VECTOR.body) as { id: string }).id;
    expect(await finished(id)).toMatchObject({ outcome: "ignored" });
    await h.db.webhookDelivery.deleteMany({ where: { id } });
  });

  it("grant.expired marks the grant needs_reauth; the same delivery again changes nothing", async () => {
    const id = await grant();
    h.sandbox.invalidateGrant(id); // what Nylas says when it sends grant.expired
    const b = body("grant.expired", id);
    await deliver(b);
    expect(await finished(b.id)).toMatchObject({ outcome: "applied", change: "needs_reauth" });
    expect(await status(id)).toBe("needs_reauth");
    expect(await h.db.webhookDelivery.findUnique({ where: { id: b.id } })).toMatchObject({
      type: "grant.expired",
      grantId: id,
    });

    // The user re-authenticates; then Nylas repeats the old delivery (after its job is gone).
    await h.db.grant.update({ where: { id }, data: { status: "valid" } });
    await (await h.webhooksQueue.getJob(webhookJobId(b.id)))!.remove();
    await deliver(b);
    expect(await finished(b.id)).toEqual({ outcome: "duplicate" });
    expect(await status(id)).toBe("valid");
  });

  it("a grant.expired older than the grant's last status change is ignored (out of order)", async () => {
    const id = await grant();
    await h.db.grant.update({ where: { id }, data: { statusChangedAt: new Date() } });
    const r = await processWebhook(deps, {
      id: uniqueId("n"),
      type: "grant.expired",
      grantId: id,
      time: Math.floor(Date.now() / 1000) - 3600,
    });
    expect(r).toMatchObject({ outcome: "ignored" });
    expect(await status(id)).toBe("valid");
  });

  it("a grant.expired from the second of the last status change applies (Nylas' time is whole seconds)", async () => {
    const id = await grant();
    const changedAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 900); // late in its second
    await h.db.grant.update({ where: { id }, data: { statusChangedAt: changedAt } });
    h.sandbox.invalidateGrant(id);
    const r = await processWebhook(deps, {
      id: uniqueId("n"),
      type: "grant.expired",
      grantId: id,
      time: Math.floor(changedAt.getTime() / 1000),
    });
    expect(r).toMatchObject({ outcome: "applied", change: "needs_reauth" });
    expect(await status(id)).toBe("needs_reauth");
  });

  it("a grant.expired for a grant Nylas changed since and says is valid is ignored (its grant.updated came first)", async () => {
    const id = await grant(); // valid at Nylas, last changed now
    const r = await processWebhook(deps, {
      id: uniqueId("n"),
      type: "grant.expired",
      grantId: id,
      time: Math.floor(Date.now() / 1000) - 5,
    });
    expect(r).toEqual({ outcome: "ignored", reason: "grant is valid at Nylas, changed since this notification" });
    expect(await status(id)).toBe("valid");
  });

  it("a grant.expired stands when Nylas still says valid but has not changed the grant since (grant_status lags)", async () => {
    const id = await grant();
    const r = await processWebhook(deps, {
      id: uniqueId("n"),
      type: "grant.expired",
      grantId: id,
      time: Math.floor(Date.now() / 1000) + 5,
    });
    expect(r).toMatchObject({ outcome: "applied", change: "needs_reauth" });
    expect(await status(id)).toBe("needs_reauth");
  });

  it("grant.deleted marks the grant revoked", async () => {
    const id = await grant();
    const b = body("grant.deleted", id);
    await deliver(b);
    expect(await finished(b.id)).toMatchObject({ outcome: "applied", change: "revoked" });
    expect(await status(id)).toBe("revoked");
  });

  it("grant.created upserts the grant with its primary calendar's zone", async () => {
    const email = `${uniqueId("c")}@example.com`.toLowerCase();
    // Google: Nylas reports a calendar's zone for Google (and virtual) calendars only.
    const g = h.sandbox.addGrant({ email, timezone: "Asia/Kathmandu", provider: "google" });
    grants.push(g.id);
    const b = body("grant.created", g.id);
    await deliver(b);
    expect(await finished(b.id)).toMatchObject({ outcome: "applied" });
    expect(await h.db.grant.findUnique({ where: { id: g.id } })).toMatchObject({
      email,
      provider: "google",
      timeZone: "Asia/Kathmandu",
      timeZoneSource: "calendar",
      status: "valid",
      sendHour: 18,
    });
  });

  it("grant.created for a calendar without a zone infers it from the user's events, under the grant's read budget", async () => {
    const email = `${uniqueId("ev")}@example.com`.toLowerCase();
    const g = h.sandbox.addGrant({ email, timezone: null, provider: "microsoft" });
    grants.push(g.id);
    const now = Math.floor(Date.now() / 1000);
    for (const [days, zone] of [
      [1, "America/Chicago"],
      [2, "America/Chicago"],
      [-2, "Europe/Madrid"],
    ] as const)
      h.sandbox.addEvent(g.id, {
        title: `in ${zone}`,
        when: {
          object: "timespan",
          start_time: now + days * 86_400,
          end_time: now + days * 86_400 + 1800,
          start_timezone: zone,
          end_timezone: zone,
        },
        participants: [{ email: "guest@example.com", status: "yes" }],
      });
    const b = body("grant.created", g.id);
    await deliver(b);
    expect(await finished(b.id)).toMatchObject({ outcome: "applied" });
    expect(await h.db.grant.findUnique({ where: { id: g.id } })).toMatchObject({
      timeZone: "America/Chicago",
      timeZoneSource: "events",
    });
    // The events read took a token from the grant's read budget in Redis, shared with its runs.
    expect(await h.redis.exists(`${h.config.QUEUE_PREFIX}:rl:read:${g.id}`)).toBe(1);
  });

  it("grant.updated with a valid grant makes it valid again and queues its undone day once the send hour passed", async () => {
    const id = await grant("UTC", 0); // send hour 00:00: always passed
    await h.db.grant.update({ where: { id }, data: { status: "needs_reauth", statusReason: "401" } });
    const b = body("grant.updated", id);
    await deliver(b);
    const result = await finished(b.id);
    const day = "2026-06-11"; // the day after the worker's clock (WORKER_CLOCK_START), in UTC
    expect(result).toMatchObject({ outcome: "applied", change: "valid", enqueuedDay: day });
    expect(await status(id)).toBe("valid");
    expect(await h.runsQueue.getJobState(runJobId(id, day))).toBe("waiting");
    expect(await h.db.run.findUnique({ where: { grantId_day: { grantId: id, day } } })).toMatchObject({
      status: "queued",
    });
  });

  it("grant.updated before the send hour changes the status but queues nothing", async () => {
    const id = await grant("UTC", 23);
    await h.db.grant.update({ where: { id }, data: { status: "needs_reauth" } });
    const noon = new Date(`${localDate("UTC", new Date())}T12:00:00Z`);
    const r = await processWebhook(
      { ...deps, now: () => noon },
      { id: uniqueId("n"), type: "grant.updated", grantId: id },
    );
    expect(r).toMatchObject({ outcome: "applied", change: "valid" });
    expect(r.enqueuedDay).toBeUndefined();
    expect(await h.runsQueue.getJobState(runJobId(id, addDays(localDate("UTC", noon), 1)))).toBe("unknown");
  });

  it("grant.updated for a grant Nylas says is invalid marks it needs_reauth", async () => {
    const id = await grant();
    h.sandbox.invalidateGrant(id);
    const r = await processWebhook(deps, { id: uniqueId("n"), type: "grant.updated", grantId: id });
    expect(r).toMatchObject({ outcome: "applied", change: "needs_reauth" });
    expect(await status(id)).toBe("needs_reauth");
  });

  it("notifications about grants nobody knows change nothing", async () => {
    const r1 = await processWebhook(deps, { id: uniqueId("n"), type: "grant.expired", grantId: "no-such-grant" });
    expect(r1).toMatchObject({ outcome: "ignored" });
    const r2 = await processWebhook(deps, { id: uniqueId("n"), type: "grant.updated", grantId: "no-such-grant" });
    expect(r2).toMatchObject({ outcome: "ignored", reason: "grant not found at Nylas" });
    expect(await h.db.grant.findUnique({ where: { id: "no-such-grant" } })).toBeNull();
  });
});
