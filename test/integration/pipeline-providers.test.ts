import { afterEach, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startClock } from "../../src/time/clock.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// Per provider, against the sandbox (which answers as the spec says each provider does),
// Redis and Postgres: what the worker does with a reminder whose send went out but whose
// answer never reached the ledger, when it comes back after Nylas' Idempotency-Key expired,
// and with grants that lack a scope.
describe("pipeline per provider", () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    startClock(undefined);
    await p?.close();
    p = undefined;
  });
  const now = new Date();
  const HOURS_2 = 2 * 3600_000;

  /** A pipeline whose valid grant of `provider` has reminders; the others are disabled. */
  async function world(provider: string) {
    p = await startPipeline({ sandbox: { seed: { grants: 12, now } } });
    await p.sync();
    const expected = p.sandbox.expectedReminders({ now });
    const grantId = p.sandbox
      .grantIds()
      .find(
        (id) =>
          p!.sandbox.grant(id).provider === provider &&
          p!.sandbox.grant(id).grant_status === "valid" &&
          expected.some((e) => e.grantId === id),
      );
    if (!grantId) throw new Error(`the seed has no ${provider} grant with reminders`);
    await p.db.grant.updateMany({
      where: { id: { in: p.sandbox.grantIds(), not: grantId } },
      data: { enabled: false },
    });
    return { p, grantId };
  }

  async function runOnce(p: Pipeline): Promise<void> {
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);
  }

  /**
   * After a night that went well, one reminder is put back as the process that sent it left
   * it when it died (claimed, lease over, no outcome), Nylas forgets the key (its hour is
   * over) and the worker's clock moves two hours on; then the day runs again.
   */
  async function diedAfterSendPastTheHour(provider: string, meanwhile?: (p: Pipeline, grantId: string) => void) {
    const { p, grantId } = await world(provider);
    await p.startWorker();
    await runOnce(p);
    meanwhile?.(p, grantId);
    const before = p.sandbox.sentMessages({ grantId }).length;
    expect(before).toBeGreaterThan(0);
    const row = await p.db.reminder.findFirstOrThrow({ where: { grantId, status: "sent" }, orderBy: { id: "asc" } });
    await p.db.$executeRawUnsafe(
      `UPDATE reminders SET status = 'claimed', claimed_at = to_timestamp(0), message_id = NULL, sent_at = NULL
       WHERE id = $1`,
      row.id,
    );
    const run = await p.db.run.findFirstOrThrow({ where: { grantId } });
    await p.db.run.update({ where: { id: run.id }, data: { status: "queued" } });
    await (await p.queue.getJob(run.jobId!))?.remove();
    p.sandbox.idempotency.reset();
    startClock(new Date(Date.now() + HOURS_2));
    await runOnce(p);
    return {
      p,
      grantId,
      before,
      after: p.sandbox.sentMessages({ grantId }).length,
      row: await p.db.reminder.findUniqueOrThrow({ where: { id: row.id } }),
      run: await p.db.run.findUniqueOrThrow({ where: { id: run.id } }),
    };
  }

  it("google: found in SENT by its marker header, not sent again", async () => {
    const r = await diedAfterSendPastTheHour("google");
    expect(r.after).toBe(r.before);
    expect(r.row.status).toBe("sent");
    expect(r.row.messageId).not.toBeNull();
    expect(r.p.sink.find(/found in Sent folder/)).toHaveLength(1);
    expect(r.run).toMatchObject({ status: "completed", remindersUncertain: 0 });
  });

  it("microsoft: no headers in Sent, found by the \\Sent folder's subject search, not sent again", async () => {
    const r = await diedAfterSendPastTheHour("microsoft");
    expect(r.after).toBe(r.before);
    expect(r.row.status).toBe("sent");
    expect(r.p.sink.find(/found in Sent folder/)).toHaveLength(1);
    const log = r.p.sandbox.requestLog({ grantId: r.grantId });
    expect(log.some((e) => e.route === "folders.list" && e.status === 200)).toBe(true);
    // Never the keyword: Nylas answers `in=SENT` with a 400 on Microsoft.
    expect(log.filter((e) => e.route === "messages.list" && e.status !== 200)).toEqual([]);
    expect(r.run).toMatchObject({ status: "completed", remindersUncertain: 0 });
  });

  it("icloud: no check to rely on and the key expired: recorded uncertain, never sent again", async () => {
    const r = await diedAfterSendPastTheHour("icloud");
    expect(r.after).toBe(r.before);
    expect(r.row.status).toBe("uncertain");
    expect(r.row.lastError).toMatch(/Idempotency-Key has expired/);
    expect(r.p.sandbox.requestLog({ grantId: r.grantId }).some((e) => e.route === "messages.list")).toBe(false);
    expect(r.run).toMatchObject({ status: "completed", remindersUncertain: 1 });
  });

  it("a Microsoft grant without Mail.Read: the check is turned off for it, and the reminder is uncertain", async () => {
    const r = await diedAfterSendPastTheHour("microsoft", (p, grantId) =>
      p.sandbox.setGrantScope(
        grantId,
        // Mail.ReadWrite would read mail too.
        p.sandbox.grant(grantId).scope.filter((s) => s !== "Mail.Read" && s !== "Mail.ReadWrite"),
      ),
    );
    const { p, grantId } = r;
    expect(r.after).toBe(r.before);
    expect(r.row.status).toBe("uncertain");
    expect(r.run).toMatchObject({ status: "completed", remindersUncertain: 1 });
    const grant = await p.db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(grant.status).toBe("valid");
    expect(grant.sentCheckOff).toMatch(/insufficient_scopes/);
  });

  it.each([
    ["Mail.Send", /re-consent needed: not allowed to send email \(Mail\.Send\)/],
    ["Calendars.Read", /re-consent needed: not allowed to read the calendar \(Calendars\.Read\)/],
  ])("a Microsoft grant without %s needs re-consent, naming it; nothing is sent", async (scope, reason) => {
    const { p, grantId } = await world("microsoft");
    p.sandbox.setGrantScope(
      grantId,
      // Mail.ReadWrite would send too.
      p.sandbox.grant(grantId).scope.filter((s) => s !== scope && s !== "Mail.ReadWrite"),
    );
    await p.startWorker();
    await runOnce(p);
    expect(p.sandbox.sentMessages({ grantId })).toHaveLength(0);
    const grant = await p.db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(grant.status).toBe("needs_reauth");
    expect(grant.statusReason).toMatch(reason);
    expect(await p.db.run.findFirstOrThrow({ where: { grantId } })).toMatchObject({ status: "needs_reauth" });
  });

  it("IMAP grants are kept but never scheduled: Nylas has no calendars for them", async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 12, now } } });
    await p.sync();
    const imap = p.sandbox.grantIds().filter((id) => p!.sandbox.grant(id).provider === "imap");
    expect(imap.length).toBeGreaterThan(0);
    expect(await p.db.grant.count({ where: { id: { in: imap } } })).toBe(imap.length);
    await p.startWorker();
    await runOnce(p);
    expect(await p.db.run.count({ where: { grantId: { in: imap } } })).toBe(0);
    const calendarCalls = p.sandbox
      .requestLog()
      .filter((e) => imap.includes(e.grantId ?? "") && /^(events|calendars)\./.test(e.route));
    expect(calendarCalls).toEqual([]);
  });

  it("grant_status lagging behind the 401s: nothing is marked while Nylas still says valid; then the grant is", async () => {
    const { p, grantId } = await world("google");
    p.sandbox.setGrantStatusLag(3000);
    p.sandbox.invalidateGrant(grantId);
    await p.startWorker();
    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 100, ignoreSendHour: true });
    // The first 401 is checked with GET /v3/grants/{id}, which still answers `valid`.
    const deadline = Date.now() + 60_000;
    const stale = () => p.sandbox.requestLog({ grantId }).some((e) => e.route === "grants.find" && e.status === 200);
    while (!stale() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stale()).toBe(true);
    expect((await p.db.grant.findUniqueOrThrow({ where: { id: grantId } })).status).toBe("valid");
    await waitForIdle(p.queue, 60_000);
    // A retry after the lag finds it invalid: marked, the run stopped, nothing sent.
    const grant = await p.db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(grant.status).toBe("needs_reauth");
    expect(p.sandbox.sentMessages({ grantId })).toHaveLength(0);
    expect(await p.db.run.findFirstOrThrow({ where: { grantId } })).toMatchObject({ status: "needs_reauth" });
  });

  it(
    "a Microsoft mailbox throttled for seconds, with no Retry-After: every reminder once, and no hammering",
    { timeout: 120_000 },
    async () => {
      // The worker's Microsoft budget (3/s) is a little more than this mailbox takes (2/s), so
      // the provider throttles it now and then, for seconds, without saying for how long.
      p = await startPipeline({ sandbox: { seed: { grants: 12, now } } });
      await p.sync();
      const expected = p.sandbox.expectedReminders({ now });
      const grantId = p.sandbox
        .grantIds()
        .filter((id) => p!.sandbox.grant(id).provider === "microsoft")
        .sort(
          (a, b) => expected.filter((e) => e.grantId === b).length - expected.filter((e) => e.grantId === a).length,
        )[0]!;
      expect(expected.filter((e) => e.grantId === grantId).length).toBeGreaterThan(2);
      await p.db.grant.updateMany({
        where: { id: { in: p.sandbox.grantIds(), not: grantId } },
        data: { enabled: false },
      });
      p.sandbox.setLimits({
        sendsPerSecond: { microsoft: 2 },
        retryAfterMissingProbability: { microsoft: 1 },
        providerThrottleMs: { microsoft: 3000 },
      });
      await p.startWorker();
      await runOnce(p);
      const log = p.sandbox.requestLog({ grantId });
      const throttled = log.filter((e) => e.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      // Backing off without Retry-After: a handful of refused requests, not a storm.
      expect(throttled.length).toBeLessThan(15);
      const report = await p.check(now, [grantId]);
      expect(report, JSON.stringify(report)).toMatchObject({ ok: true, duplicates: [], missing: [] });
    },
  );
});
