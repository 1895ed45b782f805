import { afterEach, describe, expect, it, vi } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// Whose fault a 401 is: a refused API key marks no grant and pauses the runs queue until the
// key works; a grant that Nylas says is invalid is still marked. Sandbox, Redis, Postgres.
describe("a 401 is confirmed before a grant is blamed", () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const now = new Date();
  const fileGrants = (pl: Pipeline) => ({ id: { in: pl.sandbox.grantIds() } });

  it(
    "the API key refused mid-batch: no grant marked, the queue pauses, resumes once the key works, all sent once",
    { timeout: 120_000 },
    async () => {
      p = await startPipeline({ sandbox: { seed: { grants: 4, now } }, env: { NYLAS_KEY_CHECK_EVERY_MS: "1000" } });
      await p.sync();
      const valid = await p.db.grant.count({ where: { ...fileGrants(p), status: "valid" } });
      const expected = p.sandbox.expectedReminders({ now }).length;
      expect(expected).toBeGreaterThan(8);
      const goodKey = p.sandbox.apiKey;
      await p.startWorker();
      await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
      await vi.waitFor(() => expect(p!.sandbox.sentMessages().length).toBeGreaterThanOrEqual(2), {
        timeout: 30_000,
        interval: 20,
      });

      // The key is rotated at Nylas (or mistyped in the config): every request now gets 401.
      p.sandbox.setApiKey("nyk_rotated_elsewhere");
      const sentAtSwitch = p.sandbox.sentMessages().length;
      expect(sentAtSwitch).toBeLessThan(expected);
      await vi.waitFor(async () => expect(await p!.queue.isPaused()).toBe(true), { timeout: 30_000, interval: 50 });
      // Paused for a few checks: nothing more goes out, no grant is blamed, no run fails.
      await new Promise((r) => setTimeout(r, 3000));
      expect(await p.queue.isPaused()).toBe(true);
      const sentWhilePaused = p.sandbox.sentMessages().length;
      expect(await p.db.grant.count({ where: { ...fileGrants(p), status: "valid" } })).toBe(valid);
      expect(
        await p.db.run.count({ where: { grantId: fileGrants(p).id, status: { in: ["failed", "needs_reauth"] } } }),
      ).toBe(0);
      expect(p.sandbox.counters().unauthorized).toBeGreaterThan(0);
      const refusedLines = p.sink.find(/^Nylas refused the API key/);
      expect(refusedLines).toHaveLength(1);
      expect(refusedLines[0]).toMatchObject({ level: 50, cause: "nylas_api_key_refused" });
      expect(JSON.stringify(p.sink.lines)).not.toContain("nyk_rotated_elsewhere");
      expect(JSON.stringify(p.sink.lines)).not.toContain(goodKey);

      // The key works again: the queue resumes by itself and the batch finishes.
      p.sandbox.setApiKey(goodKey);
      // The queue resumes before the line is written: wait for the line, then check the queue.
      await vi.waitFor(
        () => expect(p!.sink.find(/^Nylas accepts the API key again: runs queue resumed/)).toHaveLength(1),
        { timeout: 30_000, interval: 50 },
      );
      expect(await p.queue.isPaused()).toBe(false);
      await waitForIdle(p.queue, 60_000);

      expect(p.sandbox.sentMessages().length).toBeGreaterThan(sentWhilePaused);
      expect(await p.db.grant.count({ where: { ...fileGrants(p), status: "valid" } })).toBe(valid);
      const runs = await p.db.run.findMany({ where: { grantId: fileGrants(p).id } });
      expect(runs).toHaveLength(valid);
      expect(runs.map((r) => r.status)).toEqual(runs.map(() => "completed"));
      expect(p.sink.find(/grant needs re-authentication/)).toEqual([]);
      const report = await p.check(now);
      expect(report, JSON.stringify(report)).toMatchObject({ ok: true, duplicates: [] });
      expect(await p.queue.getJobCounts("failed")).toEqual({ failed: 0 });
    },
  );

  it("a grant invalid at Nylas is confirmed by GET /v3/grants/{id} and marked; the queue never pauses", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 3, now } }, env: { NYLAS_KEY_CHECK_EVERY_MS: "1000" } });
    await p.sync();
    const grants = await p.db.grant.findMany({ where: { ...fileGrants(p), status: "valid" }, select: { id: true } });
    const victim = grants[0]!.id;
    p.sandbox.invalidateGrant(victim);
    const batchStart = p.sandbox.log.nextSeq;
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    const g = await p.db.grant.findUniqueOrThrow({ where: { id: victim } });
    expect(g.status).toBe("needs_reauth");
    expect(g.statusReason).toMatch(/^auth 401/);
    const asked = p.sandbox.requestLog({ grantId: victim, sinceSeq: batchStart });
    expect(asked.map((e) => [e.route, e.status])).toEqual([
      ["events.list", 401],
      ["grants.find", 200],
    ]);
    expect(await p.queue.isPaused()).toBe(false);
    expect(p.sink.find(/^Nylas refused the API key/)).toEqual([]);
    const others = grants.map((x) => x.id).filter((id) => id !== victim);
    const runs = await p.db.run.findMany({ where: { grantId: { in: others } } });
    expect(runs.map((r) => r.status)).toEqual(others.map(() => "completed"));
    const report = await p.check(now, others);
    expect(report, JSON.stringify(report)).toMatchObject({ ok: true, duplicates: [] });
  });
});
