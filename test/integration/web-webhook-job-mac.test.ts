import type { Worker } from "bullmq";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { NylasApi } from "../../src/nylas/client.js";
import { macNotification, webhookJobKey } from "../../src/webhooks/job-mac.js";
import type { GrantNotification } from "../../src/webhooks/notification.js";
import { WEBHOOK_JOB_NAME, webhookJobId, type WebhookJobData, type WebhookResult } from "../../src/webhooks/queue.js";
import { signBody } from "../../src/webhooks/signature.js";
import { startWebhooksWorker, UNSIGNED_JOB } from "../../src/webhooks/worker.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { BOARD_PASSWORD, BOARD_USER, startWebHarness, WEBHOOK_SECRET, type WebHarness } from "../e2e/support.js";
import { settledJob } from "../support/jobs.js";

const operator = { authorization: `Basic ${Buffer.from(`${BOARD_USER}:${BOARD_PASSWORD}`).toString("base64")}` };
const BOARD_API = "/admin/queues/api/queues/webhooks";

/**
 * The webhook worker applies only what the signed route queued. The DNS-rebinding attack of
 * issue #8 added a `grant.deleted` job through Bull Board; anyone who can write to Redis can
 * do the same. Those jobs must fail without touching the database.
 */
describe("webhook jobs carry the signed route's MAC, and the worker checks it", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  let worker: Worker<WebhookJobData, WebhookResult>;
  const grants: string[] = [];

  const grant = async () => {
    const email = `${uniqueId("mac")}@example.com`.toLowerCase();
    const g = h.sandbox.addGrant({ email, timezone: "UTC" });
    grants.push(g.id);
    const statusChangedAt = new Date(Date.now() - 60_000);
    await h.db.grant.create({ data: { id: g.id, email, provider: "google", timeZone: "UTC", statusChangedAt } });
    return g.id;
  };
  const status = async (id: string) => (await h.db.grant.findUniqueOrThrow({ where: { id } })).status;
  /** The job once the worker is done with it (completed or failed). */
  const settled = (id: string) => settledJob<WebhookJobData, WebhookResult>(h.webhooksQueue, id);
  const refusedLines = (jobId: string) =>
    h.sink.lines.filter((l) => l.jobId === jobId && /webhook job refused/.test(String(l.msg)));
  const notification = (type: string, grantId: string): GrantNotification =>
    ({ id: uniqueId("n"), type, grantId, time: Math.floor(Date.now() / 1000) }) as GrantNotification;
  /** Delivers a notification body to /webhooks/nylas, signed as Nylas signs it. */
  const deliver = async (payload: object) => {
    const body = JSON.stringify(payload);
    const headers = { "content-type": "application/json", "x-nylas-signature": signBody(body, WEBHOOK_SECRET) };
    const res = await app.inject({ method: "POST", url: "/webhooks/nylas", payload: body, headers });
    expect(res.statusCode).toBe(200);
  };

  beforeAll(async () => {
    h = await startWebHarness();
    app = await h.server();
    const nylas = new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url, timeout: 5 });
    worker = startWebhooksWorker(h.config, h.log, { db: h.db, connection: h.redis, nylas, runsQueue: h.runsQueue });
  });
  afterAll(async () => {
    await worker.close();
    await deleteGrants(h.db, grants);
    await h.close();
  });

  it("a grant.deleted job added through Bull Board is refused at once: no retry, one warning, no change", async () => {
    const id = await grant();
    const n = notification("grant.deleted", id);
    const payload = { name: WEBHOOK_JOB_NAME, data: n };
    const res = await app.inject({ method: "POST", url: `${BOARD_API}/add`, headers: operator, payload });
    expect(res.statusCode).toBe(200);
    const jobId = String(res.json().job.id);
    const { job, state } = await settled(jobId);
    expect(state).toBe("failed");
    expect(job.failedReason).toBe(UNSIGNED_JOB);
    expect(job.attemptsMade).toBe(1); // UnrecoverableError: the queue's 10 attempts are not used
    expect(await status(id)).toBe("valid");
    expect(await h.db.webhookDelivery.findUnique({ where: { id: n.id } })).toBeNull();
    await vi.waitFor(() => expect(refusedLines(jobId)).toHaveLength(1));
    // The line names the job only: the job's data is whoever wrote it.
    expect(refusedLines(jobId)[0]).not.toHaveProperty("grantId");
  });

  type Forge = (n: GrantNotification) => object;
  const ours = () => webhookJobKey(h.sandbox.apiKey);
  it.each<[string, Forge]>([
    ["no MAC", (n) => n],
    ["a made-up MAC", (n) => ({ ...n, mac: "ab".repeat(32) })],
    ["the MAC of another notification", (n) => ({ ...n, mac: macNotification({ ...n, grantId: "x" }, ours()) })],
    ["a MAC under another API key", (n) => ({ ...n, mac: macNotification(n, webhookJobKey("other-key")) })],
    ["a valid MAC and an extra field", (n) => ({ ...n, mac: macNotification(n, ours()), reason: "x" })],
  ])("a job written straight into the queue with %s is refused and changes nothing", async (_what, forge) => {
    const id = await grant();
    const n = notification("grant.deleted", id);
    const job = await h.webhooksQueue.add(WEBHOOK_JOB_NAME, forge(n) as WebhookJobData, { jobId: webhookJobId(n.id) });
    const { state } = await settled(job.id!);
    expect(state).toBe("failed");
    expect(await status(id)).toBe("valid");
    expect(await h.db.webhookDelivery.findUnique({ where: { id: n.id } })).toBeNull();
  });

  it("the same notification through the signed route is applied", async () => {
    const id = await grant();
    const nid = uniqueId("n");
    await deliver({ specversion: "1.0", type: "grant.deleted", id: nid, data: { object: { grant_id: id } } });
    const { job, state } = await settled(webhookJobId(nid));
    expect(state).toBe("completed");
    expect(job.returnvalue).toMatchObject({ outcome: "applied", change: "revoked" });
    expect(await status(id)).toBe("revoked");
  });

  it("a signed job edited in Bull Board (its grant id changed) is refused", async () => {
    const victim = await grant();
    // The queue is paused so that the job waits for the edit instead of being applied first.
    await h.webhooksQueue.pause();
    const nid = uniqueId("n");
    const jobId = webhookJobId(nid);
    try {
      await deliver({ type: "grant.deleted", id: nid, data: { object: { grant_id: "g-unknown" } } });
      const job = (await h.webhooksQueue.getJob(jobId))!;
      const payload = { jobData: { ...job.data, grantId: victim } };
      const url = `${BOARD_API}/${jobId}/update-data`;
      expect((await app.inject({ method: "PATCH", url, headers: operator, payload })).statusCode).toBe(200);
      expect((await h.webhooksQueue.getJob(jobId))!.data.grantId).toBe(victim);
    } finally {
      await h.webhooksQueue.resume();
    }
    const { state } = await settled(jobId);
    expect(state).toBe("failed");
    expect(await status(victim)).toBe("valid");
  });
});
