import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import pLimit from "p-limit";
import type { Event } from "nylas";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { NylasApi } from "../nylas/client.js";
import { classifyError, describeFailure, type Failure } from "../nylas/errors.js";
import { backoffWithJitter, type Budget, type GrantLimiter } from "../nylas/grant-limiter.js";
import type { Claim, Ledger } from "../reminders/ledger.js";
import type { Meeting } from "../reminders/meeting.js";
import { findSentByMarker, MARKER_HEADER } from "../reminders/sent-check.js";
import { selectMeetings } from "../reminders/select.js";
import { composeReminder } from "../reminders/template.js";
import { clockNow } from "../time/clock.js";
import { localDayWindow } from "../time/window.js";
import { attemptsLeft, isLastAttempt, type RunJobData, type RunResult } from "./job.js";
import { markGrantNeedsReauth, whyGrantCannotRun } from "../grants/status.js";
import { RunStore } from "./store.js";

export interface RunProcessorSettings {
  includeAllDay: boolean;
  /** Concurrent Nylas calls inside one job. */
  jobConcurrency: number;
  /** Longest wait for a rate-limit token spent inside the worker slot; longer waits delay the job. */
  inlineWaitMaxMs: number;
  /** Give up a job that has been put back this many times for rate limits. */
  maxDelays: number;
}

export interface RunProcessorDeps {
  db: Db;
  nylas: NylasApi;
  limiter: GrantLimiter;
  ledger: Ledger;
  log: Logger;
  settings: RunProcessorSettings;
}

/** A grant's budget is spent for longer than a job should hold its worker slot. */
class GrantBusy extends Error {
  constructor(readonly waitMs: number, readonly why: string) {
    super(`grant busy for ${waitMs} ms (${why})`);
  }
}

/** Some reminders failed transiently: the job is retried with back-off. */
class RunIncomplete extends Error {}

/** Stops the other meetings of a job once the grant is known to be unusable. */
class GrantUnauthorized extends Error {
  constructor(readonly failure: Failure) {
    super(describeFailure(failure));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Meetings claimed per ledger statement. A claim's lease must outlast the wait for its
 * send (the grant's send budget spaces them), so a long day is claimed a slice at a time.
 */
const CLAIM_CHUNK = 25;

type ClaimedClaim = Extract<Claim, { outcome: "claimed" }>;
/** Why and for how long a job must come back for some of its reminders. */
interface Hold {
  ms: number;
  why: string;
  transient?: boolean;
}
interface SendCtx {
  grantId: string;
  day: string;
  email: string;
  provider: string;
  zone: string;
}

/**
 * Processes one job: one grant, one local day. Reads the day's events, selects the
 * meetings, and sends each reminder through the ledger. Safe to run again at any point:
 * what was sent is never sent again, what is missing is sent.
 */
export class RunProcessor {
  private readonly runs: RunStore;

  constructor(private readonly deps: RunProcessorDeps) {
    this.runs = new RunStore(deps.db);
  }

  async process(job: Job<RunJobData, RunResult>, token?: string): Promise<RunResult> {
    const { db, log: baseLog } = this.deps;
    const { grantId, day } = job.data;
    const log = baseLog.child({ grantId, day, jobId: job.id });
    const startedAt = Date.now();

    const grant = await this.runs.grant(grantId);
    if (!grant) throw new UnrecoverableError(`grant ${grantId} is not in the database`);
    const blocked = whyGrantCannotRun(grant);
    if (blocked !== undefined) {
      const reason = `grant ${blocked}`;
      const run = { grantId, day, timeZone: grant.timeZone };
      await (grant.status === "needs_reauth" ? this.runs.needsReauth(run, reason) : this.runs.skip(run, reason));
      log.info({ reason }, "run skipped");
      return { status: "skipped", reason, sent: 0, failed: 0, meetings: 0, skipped: {} };
    }

    let window: { start: number; end: number };
    try {
      window = localDayWindow(grant.timeZone, day);
    } catch (err) {
      const message = (err as Error).message;
      await this.runs.fail({ grantId, day, timeZone: grant.timeZone }, message);
      log.error({ err }, "run cannot start");
      throw new UnrecoverableError(message);
    }

    await this.runs.start(grantId, day, job.id, grant.timeZone, window);

    try {
      const events = await this.readEvents(grant.id, grant.calendarId, window);
      const selection = selectMeetings(events, { window, grantEmail: grant.email, includeAllDay: this.deps.settings.includeAllDay, zone: grant.timeZone });
      for (const problem of selection.problems.slice(0, 20)) log.warn({ eventId: problem.eventId }, `event skipped: ${problem.reason}`);

      const outcome = await this.sendAll(selection.meetings, { grantId, day, email: grant.email, provider: grant.provider, zone: grant.timeZone }, log);
      const skippedTotal = Object.values(selection.skipped).reduce<number>((a, b) => a + (b ?? 0), 0);
      const incomplete = outcome.retryInMs !== undefined;
      const finishedAt = incomplete ? null : new Date();
      // Some reminders may be held by another attempt or have failed transiently: record
      // what we know and come back; the ledger makes the next attempt send only what is missing.
      const totals = await this.runs.finish(grantId, day, {
        status: incomplete ? "running" : "completed",
        meetingsSeen: selection.meetings.length + skippedTotal,
        remindersSkipped: skippedTotal,
        skippedByReason: selection.skipped,
        lastError: incomplete ? (outcome.reason ?? null) : null,
        finishedAt,
        durationMs: finishedAt ? finishedAt.getTime() - startedAt : null,
      });
      const result: RunResult = {
        status: incomplete ? "incomplete" : "completed",
        meetings: selection.meetings.length,
        sent: totals.sent,
        failed: totals.failed,
        skipped: selection.skipped,
      };
      // Progress is for people watching Bull Board; the job does not wait for it.
      void job.updateProgress({ sent: totals.sent, failed: totals.failed, meetings: selection.meetings.length }).catch(() => {});

      if (outcome.retryInMs !== undefined) {
        if (outcome.transient) throw new RunIncomplete(`incomplete: ${outcome.reason}`);
        throw await this.delay(job, token, outcome.retryInMs, outcome.reason ?? "reminders held", log);
      }
      log.info({ ...result, ms: Date.now() - startedAt }, "run completed");
      return result;
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      if (err instanceof GrantBusy) throw await this.delay(job, token, err.waitMs, err.why, log);
      if (err instanceof RunIncomplete) {
        if (isLastAttempt(job, "running")) await this.runs.fail({ grantId, day, timeZone: grant.timeZone }, err.message);
        log.warn({ attemptsLeft: attemptsLeft(job, "running") }, `run attempt incomplete: ${err.message}`);
        throw err;
      }
      const failure = err instanceof GrantUnauthorized ? err.failure : classifyError(err);
      if (failure.kind === "auth") {
        await markGrantNeedsReauth(db, grantId, describeFailure(failure));
        await this.runs.needsReauth({ grantId, day, timeZone: grant.timeZone }, describeFailure(failure));
        log.warn({ requestId: failure.requestId }, "grant needs re-authentication; run stopped");
        throw new UnrecoverableError(`grant needs re-authentication: ${failure.message}`);
      }
      if (failure.kind === "rate_limited") {
        const waitMs = await this.deps.limiter.block(grantId, failure.retryAfterMs ?? backoffWithJitter(job.data.delays ?? 0, 1000, 60_000));
        throw await this.delay(job, token, waitMs, describeFailure(failure), log);
      }
      const lastError = describeFailure(failure);
      await this.runs.attemptFailed({ grantId, day, timeZone: grant.timeZone }, lastError, { retrying: !isLastAttempt(job, "running") && failure.kind === "transient" });
      log.warn({ attemptsLeft: attemptsLeft(job, "running"), kind: failure.kind }, `run attempt failed: ${lastError}`);
      if (failure.kind === "permanent") throw new UnrecoverableError(lastError);
      throw new Error(lastError, { cause: err });
    }
  }

  private async readEvents(grantId: string, calendarId: string, window: { start: number; end: number }): Promise<Event[]> {
    const events: Event[] = [];
    // Each page takes a read token before its request and settles it once it has answered
    // (when the next page is asked for, or the reading ends).
    let holding = false;
    const answered = () => {
      if (holding) this.settle(grantId, "read");
      holding = false;
    };
    const beforePage = async () => {
      answered();
      await this.acquire(grantId, "read");
      holding = true;
    };
    try {
      const pages = this.deps.nylas.events(grantId, { calendarId, start: window.start, end: window.end, limit: 200, expandRecurring: true }, beforePage);
      for await (const page of pages) events.push(...page);
    } finally {
      answered();
    }
    return events;
  }

  private async sendAll(meetings: Meeting[], ctx: SendCtx, log: Logger): Promise<{ retryInMs?: number; reason?: string; transient?: boolean }> {
    const limit = pLimit(this.deps.settings.jobConcurrency);
    let retryInMs: number | undefined;
    let reason: string | undefined;
    let transient = false;
    let stop: unknown;
    const marks: Promise<Hold | undefined>[] = [];
    const hold = (ms: number, why: string, isTransient = false) => {
      retryInMs = retryInMs === undefined ? ms : Math.max(retryInMs, ms);
      reason = why;
      transient ||= isTransient;
    };

    for (let from = 0; from < meetings.length && !stop; from += CLAIM_CHUNK) {
      const chunk = meetings.slice(from, from + CLAIM_CHUNK);
      const claims = await this.deps.ledger.claimMany(
        chunk.map((m) => ({ grantId: ctx.grantId, eventId: m.eventId, eventStart: m.start, day: ctx.day, title: m.title, recipients: m.recipients })),
      );
      // Claims no send has started on yet: handed back if the job stops before them.
      const untouched = new Set(claims.filter((c): c is ClaimedClaim => c.outcome === "claimed"));
      await Promise.all(
        chunk.map((meeting, k) =>
          limit(async () => {
            if (stop) return;
            const claim = claims[k]!;
            if (claim.outcome === "claimed") untouched.delete(claim);
            try {
              const r = await this.sendOne(meeting, claim, ctx, log);
              if (r.hold) hold(r.hold.ms, r.hold.why, r.hold.transient);
              if (r.marked) marks.push(r.marked);
            } catch (err) {
              // Rate limits and 401s concern the whole grant: the meetings still queued
              // return at once (clearQueue would leave their promises unsettled).
              stop ??= err;
            }
          }),
        ),
      );
      if (stop && untouched.size > 0) await this.deps.ledger.unclaim([...untouched], "not sent: the run stopped before this reminder");
    }
    // Every send is recorded (or released as uncertain) before the job goes on, even when
    // it stops for the grant's sake.
    for (const h of await Promise.all(marks)) if (h) hold(h.ms, h.why, h.transient);
    if (stop) throw stop;
    return { retryInMs, reason, transient };
  }

  private async sendOne(meeting: Meeting, claim: Claim, ctx: SendCtx, log: Logger): Promise<{ hold?: Hold; marked?: Promise<Hold | undefined> }> {
    const { ledger, nylas } = this.deps;
    if (claim.outcome === "done") return {};
    if (claim.outcome === "exhausted") return {};
    if (claim.outcome === "busy") return { hold: { ms: claim.retryInMs, why: `reminder for ${meeting.eventId} is held by another attempt` } };

    if (claim.uncertain) {
      // An earlier attempt claimed this reminder and never recorded the outcome: it may
      // have died between the send and the ledger update. The Sent folder knows.
      let found: string | undefined;
      try {
        found = await this.withToken(ctx.grantId, "read", undefined, () => findSentByMarker(nylas, ctx.grantId, claim.marker, meeting.start - 7 * 86_400));
      } catch (err) {
        const failure = classifyError(err);
        await this.blockOn429(ctx.grantId, failure);
        // Still unknown: keep it uncertain for the next attempt, without waiting out a lease.
        await ledger.release(claim.id, "Sent folder not checked: " + describeFailure(failure));
        throw err;
      }
      if (found) {
        await ledger.markSent(claim.id, found);
        log.info({ eventId: meeting.eventId, messageId: found }, "reminder found in Sent folder; not sent again");
        return {};
      }
    }

    const message = composeReminder(meeting, { zone: ctx.zone, senderEmail: ctx.email, marker: claim.marker, now: clockNow() });
    try {
      await this.acquire(ctx.grantId, "send", ctx.provider);
    } catch (err) {
      await ledger.markFailed(claim.id, "not sent: grant budget spent", { countAttempt: false });
      throw err;
    }
    try {
      const sent = await this.settleAfter(ctx.grantId, "send", ctx.provider, () =>
        nylas.send(ctx.grantId, {
          to: meeting.recipients,
          subject: message.subject,
          body: message.html,
          customHeaders: [{ name: MARKER_HEADER, value: claim.marker }],
        }),
      );
      // The slot goes on to the next send while the mark is written; the job waits for
      // every mark before it records its outcome.
      return { marked: this.recordSent(claim, sent.id, meeting, log) };
    } catch (err) {
      const failure = classifyError(err);
      const text = describeFailure(failure);
      switch (failure.kind) {
        // Neither is the reminder's fault, so the refused claim does not count against it.
        case "auth":
          await ledger.markFailed(claim.id, text, { countAttempt: false });
          throw new GrantUnauthorized(failure);
        case "rate_limited":
          await this.blockOn429(ctx.grantId, failure);
          await ledger.markFailed(claim.id, text, { countAttempt: false });
          throw err;
        case "permanent":
          await ledger.markFailed(claim.id, text);
          log.warn({ eventId: meeting.eventId, requestId: failure.requestId }, `reminder refused: ${text}`);
          return {};
        case "transient":
          // Unknown whether it went out: keep the claim, let the next attempt check.
          await ledger.release(claim.id, text);
          log.warn({ eventId: meeting.eventId, requestId: failure.requestId }, `reminder send uncertain: ${text}`);
          return { hold: { ms: 0, why: text, transient: true } };
      }
    }
  }

  /**
   * Marks a send in the ledger. If the mark cannot be written, the reminder went out but the
   * ledger does not know: its claim is released as uncertain, and the next attempt finds
   * the message in the Sent folder instead of sending it again.
   */
  private recordSent(claim: ClaimedClaim, messageId: string, meeting: Meeting, log: Logger): Promise<Hold | undefined> {
    return this.deps.ledger.markSent(claim.id, messageId).then(
      () => undefined,
      async (err: unknown) => {
        const why = `sent, not recorded: ${describeFailure(classifyError(err))}`;
        await this.deps.ledger.release(claim.id, why).catch(() => {});
        log.warn({ eventId: meeting.eventId, messageId }, why);
        return { ms: 0, why, transient: true };
      },
    );
  }

  /**
   * A 429 holds the whole grant at once, before this call yields: the job's other requests,
   * already waiting for a token, must not reach Nylas before Retry-After (the job is then
   * parked for it, see `process`).
   */
  private async blockOn429(grantId: string, failure: Failure): Promise<void> {
    if (failure.kind !== "rate_limited") return;
    await this.deps.limiter.block(grantId, failure.retryAfterMs ?? 1000).catch(() => {});
  }

  /** One request under the grant's budget: a token before it, settled once it has answered. */
  private async withToken<T>(grantId: string, budget: Budget, provider: string | undefined, call: () => Promise<T>): Promise<T> {
    await this.acquire(grantId, budget, provider);
    return this.settleAfter(grantId, budget, provider, call);
  }

  /** Runs a request whose token is taken, then tells the limiter it has answered. */
  private async settleAfter<T>(grantId: string, budget: Budget, provider: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } finally {
      this.settle(grantId, budget, provider);
    }
  }

  /**
   * A request of the grant has answered. Not awaited: until the settle lands, the grant's
   * next take just sees the request in flight and polls.
   */
  private settle(grantId: string, budget: Budget, provider?: string): void {
    void this.deps.limiter.settle(grantId, budget, provider).catch(() => {});
  }

  /** Takes a token from the grant's budget, sleeping only for short waits. */
  private async acquire(grantId: string, budget: Budget, provider?: string): Promise<void> {
    for (;;) {
      const waitMs = await this.deps.limiter.take(grantId, budget, provider);
      if (waitMs === 0) return;
      if (waitMs > this.deps.settings.inlineWaitMaxMs) throw new GrantBusy(waitMs, `${budget} budget of grant spent`);
      await sleep(waitMs);
    }
  }

  /** Hands the worker slot back: the job waits in the delayed set, not in a worker. */
  private async delay(job: Job<RunJobData, RunResult>, token: string | undefined, ms: number, why: string, log: Logger): Promise<Error> {
    const delays = (job.data.delays ?? 0) + 1;
    if (delays > this.deps.settings.maxDelays) {
      await this.runs.attemptFailed({ grantId: job.data.grantId, day: job.data.day, timeZone: undefined }, `gave up after ${delays - 1} delays: ${why}`, { retrying: false });
      return new UnrecoverableError(`gave up after ${delays - 1} delays: ${why}`);
    }
    await job.updateData({ ...job.data, delays });
    const jittered = Math.max(50, Math.round(ms + Math.random() * Math.min(1000, ms * 0.2)));
    await job.moveToDelayed(Date.now() + jittered, token);
    log.info({ delayMs: jittered, delays }, `run delayed: ${why}`);
    return new DelayedError(why);
  }
}
