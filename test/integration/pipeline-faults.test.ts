import { afterEach, describe, expect, it, vi } from "vitest";
import { markGrantValid } from "../../src/grants/status.js";
import { waitForIdle } from "../../src/queue/idle.js";
import { schedulerTick } from "../../src/scheduler/tick.js";
import { addDays, localDate, localDayWindow } from "../../src/time/window.js";
import { startPipeline, type Pipeline } from "../helpers/pipeline.js";

// How one grant's trouble stays with that grant, against the sandbox, Redis and Postgres.
describe("pipeline under faults", () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const now = new Date();
  const validGrants = async (pl: Pipeline) => (await pl.db.grant.findMany({ where: { id: { in: pl.sandbox.grantIds() }, status: "valid" }, select: { id: true, provider: true } }));

  it("a 429 storm on one grant does not delay the others, and nothing is sent twice", async () => {
    // Seed position 3 is a Microsoft grant; the sandbox lets it send 1/s while the worker
    // is configured to try 10/s, so that grant meets 429s with Retry-After all along. The
    // Google grants keep to 2/s against a sandbox limit of 3/s: no 429 of their own.
    p = await startPipeline({ sandbox: { seed: { grants: 6, now }, limits: { sendsPerSecond: { microsoft: 1, google: 3 } } }, env: { RATE_SENDS_PER_SEC_MICROSOFT: "10" } });
    await p.sync();
    const grants = await validGrants(p);
    const stormy = grants.find((g) => g.provider === "microsoft")!.id;
    await p.startWorker();
    const t0 = Date.now();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 90_000);

    const runs = await p.db.run.findMany({ where: { grantId: { in: grants.map((g) => g.id) } } });
    const stormRun = runs.find((r) => r.grantId === stormy)!;
    const others = runs.filter((r) => r.grantId !== stormy);
    expect(runs.every((r) => r.status === "completed")).toBe(true);
    const limited = p.sandbox.requestLog({ status: 429 });
    expect(limited.length).toBeGreaterThan(2);
    expect(new Set(limited.map((e) => e.grantId))).toEqual(new Set([stormy]));
    // The others finished at their own pace (8 or 9 reminders at 2/s), long before the storm ended.
    for (const r of others) {
      expect(r.finishedAt!.getTime()).toBeLessThan(stormRun.finishedAt!.getTime());
      // 8 or 9 sends at 2/s take about 5 s; the bound leaves room for a loaded CI runner.
      expect(r.finishedAt!.getTime() - t0).toBeLessThan(20_000);
    }
    expect(p.sink.find(/^run delayed/).every((l) => l.grantId === stormy)).toBe(true);
    expect((await p.check(now)).ok).toBe(true);
  });

  it("a grant invalidated mid-run ends needs_reauth, costs no more requests, and resumes exactly where it stopped once valid", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 3, now } } });
    await p.sync();
    const grants = await validGrants(p);
    const victim = grants[0]!.id;
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await vi.waitFor(() => expect(p!.sandbox.sentMessages({ grantId: victim }).length).toBeGreaterThanOrEqual(2), { timeout: 20_000, interval: 20 });
    p.sandbox.invalidateGrant(victim);
    await waitForIdle(p.queue, 60_000);

    const g = await p.db.grant.findUniqueOrThrow({ where: { id: victim } });
    expect(g.status).toBe("needs_reauth");
    expect(g.statusReason).toMatch(/^auth 401/);
    const day = addDays(localDate(g.timeZone, now), 1);
    expect((await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim, day } } })).status).toBe("needs_reauth");
    const log = p.sandbox.requestLog({ grantId: victim });
    const first401 = log.findIndex((e) => e.status === 401);
    // After the first 401 only requests already in flight (JOB_CONCURRENCY) may follow.
    expect(log.length - first401 - 1).toBeLessThan(p.config.JOB_CONCURRENCY);
    expect(p.sink.find(/grant needs re-authentication/).some((l) => l.grantId === victim && l.level === 40)).toBe(true);
    const sentBefore = p.sandbox.sentMessages({ grantId: victim }).length;
    // The job claims its meetings together; those it never got to are handed back as
    // refusals that cost no attempt, so none is left claimed (nor looks uncertain later).
    const ledgerRows = await p.db.reminder.findMany({ where: { grantId: victim, day } });
    expect(ledgerRows.filter((r) => r.status === "claimed")).toEqual([]);
    expect(ledgerRows.filter((r) => r.status === "sent")).toHaveLength(sentBefore);
    const handedBack = ledgerRows.filter((r) => r.status === "failed");
    expect(handedBack.length).toBeGreaterThan(0);
    expect(handedBack.every((r) => r.attempts === 0)).toBe(true);
    expect(sentBefore).toBeLessThan(p.sandbox.expectedReminders({ now, grantIds: [victim], includeInvalid: true }).length);

    // No later tick spends anything on it while it needs re-authentication.
    const tick = await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    expect(tick.scanned).toBe(grants.length - 1);

    // The user signs in again: the day is revived and only the missing reminders go out.
    p.sandbox.restoreGrant(victim);
    await markGrantValid(p.db, victim, "re-authenticated");
    const again = await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    expect(again.revived).toBe(1);
    await waitForIdle(p.queue, 60_000);
    expect((await p.check(now)).ok).toBe(true);
  });

  it("a send that went out but whose answer was lost is found in the Sent folder, not sent again", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 1, now } } });
    await p.sync();
    const [grant] = await validGrants(p);
    // The sandbox performs the send, then drops the connection without answering.
    p.sandbox.injectFault({ kind: "drop_after", count: 1, grantId: grant!.id, routeClass: "send" });
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    expect(p.sandbox.requestLog({ grantId: grant!.id }).some((e) => e.note === "dropped_after")).toBe(true);
    expect(p.sink.find(/found in Sent folder/)).toHaveLength(1);
    const report = await p.check(now);
    expect(report).toMatchObject({ ok: true, duplicates: [] });
    expect(p.sandbox.sentMessages({ grantId: grant!.id })).toHaveLength(report.expected);
  });

  it("5xx and dropped connections are retried with back-off until everything is sent", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 2, now } } });
    await p.sync();
    p.sandbox.injectFault({ kind: 503, count: 2, routeClass: "events" });
    p.sandbox.injectFault({ kind: "drop", count: 2, routeClass: "send" });
    p.sandbox.injectFault({ kind: 502, count: 1, routeClass: "send" });
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 90_000);
    expect(p.sandbox.pendingFaults()).toEqual([]);
    const report = await p.check(now);
    expect(report, JSON.stringify(report)).toMatchObject({ ok: true });
    const runs = await p.db.run.findMany({ where: { grantId: { in: p.sandbox.grantIds() } } });
    expect(runs.every((r) => r.status === "completed")).toBe(true);
    expect(Math.max(...runs.map((r) => r.attempts))).toBeGreaterThan(1);
  });

  it("a meeting the provider refuses is recorded on its row; the others still go out", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 1, now } } });
    await p.sync();
    const [grant] = await validGrants(p);
    const g = await p.db.grant.findUniqueOrThrow({ where: { id: grant!.id } });
    const day = addDays(localDate(g.timeZone, now), 1);
    const { start } = localDayWindow(g.timeZone, day);
    // More recipients than the provider takes in one message (500): refused with a 400.
    const guests = Array.from({ length: 501 }, (_, i) => ({ email: `guest${i}@example.com`, status: "yes" }));
    p.sandbox.addEvent(g.id, {
      title: "Refused",
      when: { start_time: start + 9 * 3600 + 600, end_time: start + 10 * 3600 },
      participants: [{ email: g.email, status: "yes" }, ...guests],
    });
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    const refused = await p.db.reminder.findFirstOrThrow({ where: { grantId: g.id, title: "Refused" } });
    expect(refused.status).toBe("failed");
    expect(refused.lastError).toMatch(/^permanent 400/);
    const run = await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: g.id, day } } });
    expect(run.status).toBe("completed");
    expect(run.remindersFailed).toBe(1);
    expect(run.remindersSent).toBe(p.sandbox.expectedReminders({ now, grantIds: [g.id] }).length);
    expect((await p.check(now)).ok).toBe(true);
  });
});
