import { afterEach, describe, expect, it, vi } from "vitest";
import { markGrantValid } from "../../src/grants/status.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { runJobId } from "../../src/runs/job.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { addDays, localDate } from "../../src/time/window.js";
import { GRANT_CAN_RUN_WHERE } from "../../src/grants/status.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";
import { messagesOf } from "../support/messages.js";

// How one grant's trouble stays with that grant, against the sandbox, Redis and Postgres.
describe("pipeline under faults", () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const now = new Date();
  const validGrants = async (pl: Pipeline) =>
    await pl.db.grant.findMany({
      where: { id: { in: pl.sandbox.grantIds() }, ...GRANT_CAN_RUN_WHERE },
      select: { id: true, provider: true },
    });

  it(
    "a 429 storm on one grant does not hold up the others, and nothing is sent twice",
    { timeout: 180_000 },
    async () => {
      // Seed position 3 is a Microsoft grant; the sandbox lets it send 1/s while the worker
      // is configured to try 10/s, so that grant meets the provider's 429s with Retry-After
      // all along. On top of that every request of it is refused (429, Retry-After 2 s) until
      // the others are done, so "the others finished first" is a condition, not a race. The
      // Google grants keep to 2/s against a sandbox limit of 3/s: no 429 of their own.
      p = await startPipeline({
        sandbox: { seed: { grants: 6, now }, limits: { sendsPerSecond: { microsoft: 1, google: 3 } } },
        env: { RATE_SENDS_PER_SEC_MICROSOFT: "10" },
      });
      await p.sync();
      // One Microsoft grant (the seed has several; the sandbox's limit is per provider), the
      // others Google and iCloud.
      const runnable = await validGrants(p);
      const stormy = runnable.find((g) => g.provider === "microsoft")!.id;
      const quiet = runnable.filter((g) => g.provider === "microsoft" && g.id !== stormy).map((g) => g.id);
      await p.db.grant.updateMany({ where: { id: { in: quiet } }, data: { enabled: false } });
      const grants = runnable.filter((g) => !quiet.includes(g.id));
      const others = grants.filter((g) => g.id !== stormy).map((g) => g.id);
      expect(others.length).toBeGreaterThan(1);
      p.sandbox.injectFault({ kind: 429, retryAfterS: 2, grantId: stormy, count: null });
      const batchStart = p.sandbox.log.nextSeq;
      await p.startWorker();
      await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });

      // Every other grant completes while the stormy one is still refused: if its trouble held
      // them up (a shared budget, slots kept busy by its job), this wait would run out.
      await vi.waitFor(
        async () =>
          expect(await p!.db.run.count({ where: { grantId: { in: others }, status: "completed" } })).toBe(
            others.length,
          ),
        { timeout: 60_000, interval: 100 },
      );
      const stormSoFar = p.sandbox.requestLog({ grantId: stormy, sinceSeq: batchStart });
      expect(stormSoFar.length).toBeGreaterThan(0);
      expect(stormSoFar.every((e) => e.status === 429)).toBe(true);
      expect((await p.db.run.findFirst({ where: { grantId: stormy } }))?.status).not.toBe("completed");

      // The storm eases to the provider's own limit; the stormy grant then finishes too.
      p.sandbox.clearFaults();
      await waitForIdle(p.queue, 90_000);
      const runs = await p.db.run.findMany({ where: { grantId: { in: grants.map((g) => g.id) } } });
      expect(runs.map((r) => r.status)).toEqual(grants.map(() => "completed"));
      const limited = p.sandbox.requestLog({ status: 429 });
      expect(limited.length).toBeGreaterThan(2);
      expect(new Set(limited.map((e) => e.grantId))).toEqual(new Set([stormy]));
      // Only the stormy grant's job was ever parked, and it was (at least once).
      const delayed = p.sink.find(/^run delayed/);
      expect(delayed.length).toBeGreaterThan(0);
      expect(new Set(delayed.map((l) => l.grantId))).toEqual(new Set([stormy]));
      expect(
        (
          await p.check(
            now,
            grants.map((g) => g.id),
          )
        ).ok,
      ).toBe(true);
    },
  );

  it(
    "a job parked by a 429 gives its worker slot to other grants and resumes no sooner than Retry-After",
    { timeout: 120_000 },
    async () => {
      const retryAfterS = 4;
      // One worker slot for six grants: while the parked job waits, the slot is free for the
      // others only if the job really left it. Budgets are generous so that nothing but the
      // injected 429 holds anyone back.
      p = await startPipeline({
        sandbox: {
          seed: { grants: 6, now },
          limits: { sendsPerSecond: { google: 50, microsoft: 50, imap: 50, default: 50 } },
        },
        env: {
          WORKER_CONCURRENCY: "1",
          RATE_SENDS_PER_SEC: "20",
          RATE_SENDS_PER_SEC_GOOGLE: "20",
          RATE_SENDS_PER_SEC_MICROSOFT: "20",
        },
      });
      await p.sync();
      const grants = await validGrants(p);
      expect(grants.length).toBeGreaterThan(2);
      // The first send of the batch (whichever job holds the slot) is refused once.
      p.sandbox.injectFault({ kind: 429, retryAfterS, routeClass: "send", count: 1 });
      const batchStart = p.sandbox.log.nextSeq;
      await p.startWorker();
      await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
      await waitForIdle(p.queue, 90_000);

      // The batch's requests (the grant sync's came before).
      const log = p.sandbox.requestLog({ sinceSeq: batchStart });
      const refused = log.filter((e) => e.status === 429);
      expect(refused).toHaveLength(1);
      const hit = refused[0]!;
      const parked = hit.grantId!;
      // Times on the sandbox's clock: a request arrived at `at - ms` and was answered at `at`.
      const arrival = (e: (typeof log)[number]) => e.at - e.ms;
      const resume = log.find((e) => e.seq > hit.seq && e.grantId === parked);
      expect(resume).toBeDefined();
      // Nothing of the parked grant reached Nylas before Retry-After had passed.
      expect(arrival(resume!) - hit.at).toBeGreaterThanOrEqual(retryAfterS * 1000);

      // While it waited out Retry-After, the slot ran other grants' jobs from start to end.
      const waitEnd = hit.at + retryAfterS * 1000;
      const inWait = (e: (typeof log)[number]) => arrival(e) > hit.at && e.at < waitEnd;
      const during = log.filter((e) => e.grantId !== undefined && e.grantId !== parked && inWait(e));
      const whollyDuring = grants
        .map((g) => g.id)
        .filter((id) => id !== parked)
        .filter((id) => {
          const own = log.filter((e) => e.grantId === id);
          return own.length > 0 && own.every(inWait);
        });
      expect(during.length).toBeGreaterThan(0);
      expect(whollyDuring.length).toBeGreaterThan(0);

      // The job was parked (moved to BullMQ's delayed set), for at least Retry-After; only it.
      const delayed = p.sink.find(/^run delayed/);
      expect(delayed.length).toBeGreaterThan(0);
      expect(delayed.every((l) => l.grantId === parked)).toBe(true);
      expect(delayed.every((l) => Number(l.delayMs) >= retryAfterS * 1000)).toBe(true);

      const runs = await p.db.run.findMany({ where: { grantId: { in: grants.map((g) => g.id) } } });
      expect(runs.map((r) => r.status)).toEqual(grants.map(() => "completed"));
      expect(await p.check(now)).toMatchObject({ ok: true, duplicates: [] });
    },
  );

  it("a grant invalidated mid-run ends needs_reauth, costs no more requests, and resumes exactly where it stopped once valid", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 3, now } } });
    await p.sync();
    const grants = await validGrants(p);
    const victim = grants[0]!.id;
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await vi.waitFor(() => expect(p!.sandbox.sentMessages({ grantId: victim }).length).toBeGreaterThanOrEqual(2), {
      timeout: 20_000,
      interval: 20,
    });
    p.sandbox.invalidateGrant(victim);
    await waitForIdle(p.queue, 60_000);

    const g = await p.db.grant.findUniqueOrThrow({ where: { id: victim } });
    expect(g.status).toBe("needs_reauth");
    expect(g.statusReason).toMatch(/^auth 401/);
    const day = addDays(localDate(g.timeZone, now), 1);
    expect((await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim, day } } })).status).toBe(
      "needs_reauth",
    );
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
    expect(sentBefore).toBeLessThan(
      p.sandbox.expectedReminders({ now, grantIds: [victim], includeInvalid: true }).length,
    );

    // No later tick spends anything on it while it needs re-authentication. (A tick reads
    // the whole shared database, so its counts are checked on this file's grants only.)
    const jobState = async () => (await p!.queue.getJob(runJobId(victim, day)))?.getState();
    const stateBefore = await jobState();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    expect(await jobState()).toBe(stateBefore);
    await waitForIdle(p.queue, 60_000);
    expect(p.sandbox.requestLog({ grantId: victim })).toHaveLength(log.length);
    expect((await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim, day } } })).status).toBe(
      "needs_reauth",
    );

    // The user signs in again: the day is revived and only the missing reminders go out.
    p.sandbox.restoreGrant(victim);
    await markGrantValid(p.db, victim, "re-authenticated");
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    expect((await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim, day } } })).status).not.toBe(
      "needs_reauth",
    );
    await waitForIdle(p.queue, 60_000);
    expect((await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: victim, day } } })).status).toBe(
      "completed",
    );
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
    expect(p.sandbox.sentMessages({ grantId: grant!.id })).toHaveLength(
      messagesOf(p.sandbox.expectedReminders({ now, grantIds: [grant!.id] })),
    );
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
    // The provider refuses the grant's first send with a 400 (a message it will not take).
    p.sandbox.injectFault({ kind: 400, count: 1, grantId: g.id, routeClass: "send" });
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);

    const refused = await p.db.reminder.findMany({ where: { grantId: g.id, status: "failed" } });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.lastError).toMatch(/^permanent 400/);
    const run = await p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: g.id, day } } });
    expect(run.status).toBe("completed");
    expect(run.remindersFailed).toBe(1);
    expect(run.remindersSent).toBe(messagesOf(p.sandbox.expectedReminders({ now, grantIds: [g.id] })) - 1);
    const report = await p.check(now);
    // Only the refused one is missing.
    expect(report.missing.map((m) => m.eventId)).toEqual([refused[0]!.eventId]);
    expect(report).toMatchObject({ duplicates: [], unexpected: [] });
  });
});
