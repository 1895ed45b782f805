import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { runJobId } from "../../src/runs/job.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { addDays, localDate } from "../../src/time/window.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// "A 401 … stops its job without retries" (README), asked of BullMQ itself in real Redis:
// how often the job was started and failed, and its final state. Counting the sandbox's
// requests alone cannot tell, since a retried job of a grant already marked needs_reauth
// makes no request at all.
describe("a run that meets a 401 is not retried", () => {
  let p: Pipeline;
  const now = new Date();

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 3, now } } });
  });
  afterAll(async () => {
    await p.close();
  });

  it("fails its job for good after one attempt, while the grant's neighbours complete", async () => {
    await p.sync();
    const grants = await p.db.grant.findMany({
      where: { id: { in: p.sandbox.grantIds() }, status: "valid" },
      select: { id: true, timeZone: true },
    });
    expect(grants.length).toBeGreaterThanOrEqual(2);
    const [victim, ...others] = grants as [(typeof grants)[number], ...typeof grants];
    // Access revoked after the sync: the database still says valid, Nylas answers 401.
    p.sandbox.invalidateGrant(victim.id);
    const sinceSeq = (p.sandbox.requestLog().at(-1)?.seq ?? -1) + 1; // after the sync's requests
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    // Retries were available (attempts > 1): the job did not take them.
    expect(p.config.JOB_ATTEMPTS).toBeGreaterThan(1);
    const day = addDays(localDate(victim.timeZone, now), 1);
    const job = (await p.queue.getJob(runJobId(victim.id, day)))!;
    expect(job.opts.attempts).toBe(p.config.JOB_ATTEMPTS);
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsStarted).toBe(1);
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/needs re-authentication/);
    // Nothing of it waits for a later try.
    expect(await p.queue.getJobCounts("waiting", "delayed", "active", "prioritized")).toEqual({
      waiting: 0,
      delayed: 0,
      active: 0,
      prioritized: 0,
    });
    const run = await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim.id, day } } });
    expect(run.status).toBe("needs_reauth");
    expect((await p.db.grant.findUniqueOrThrow({ where: { id: victim.id } })).status).toBe("needs_reauth");
    // One request, the 401, then the grant lookup that confirms it (grant_status invalid), and nothing after.
    expect(p.sandbox.requestLog({ grantId: victim.id, sinceSeq }).map((e) => [e.route, e.status])).toEqual([
      ["events.list", 401],
      ["grants.find", 200],
    ]);

    for (const g of others) {
      const other = (await p.queue.getJob(runJobId(g.id, addDays(localDate(g.timeZone, now), 1))))!;
      expect(await other.getState()).toBe("completed");
    }
  });
});
