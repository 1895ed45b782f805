import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import type { Event } from "nylas";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { GrantInfo, NylasApi } from "../nylas/client.js";
import { blameUnauthorized, classifyError, describeFailure, type GrantCheck } from "../nylas/errors.js";
import type { ApiKeyGate } from "../nylas/key-watch.js";
import { backoffWithJitter, GrantBusy, type GrantBudget, type GrantLimiter } from "../nylas/grant-limiter.js";
import type { DeliveryMode } from "../reminders/deliveries.js";
import type { Ledger } from "../reminders/ledger.js";
import { sendReminders, type SendPorts } from "../reminders/send.js";
import { withoutCoveredBy } from "../reminders/covered.js";
import { PeopleReader } from "../reminders/people.js";
import { sentLookup } from "../reminders/sent-check.js";
import { selectMeetings } from "../reminders/select.js";
import { splitByLead } from "../reminders/lead.js";
import type { ReminderPolicy } from "../reminders/policy.js";
import type { Selection } from "../reminders/meeting.js";
import { clockNow } from "../time/clock.js";
import { localDayWindow } from "../time/window.js";
import { runWindow } from "./coverage.js";
import { attemptsLeft, isLastAttempt, type RunJobData, type RunResult } from "./job.js";
import { markGrantNeedsReauth, turnSentCheckOff, whyGrantCannotRun } from "../grants/status.js";
import { describeAccess, sentCheckMethod, type Access } from "../nylas/providers.js";
import { RunStore, type RunGrant } from "./store.js";
import { rerunMeetings } from "./rerun-day.js";
import { optOutComposer, type UnsubscribeSettings } from "../optout/message.js";
import { dropSuppressed } from "../optout/selection.js";

export interface RunProcessorSettings {
  includeAllDay: boolean;
  /** One reminder per meeting where allowed (default), or one per recipient always. */
  delivery?: DeliveryMode;
  /** Concurrent Nylas calls inside one job. */
  jobConcurrency: number;
  /** Longest wait for a rate-limit token spent inside the worker slot; longer waits delay the job. */
  inlineWaitMaxMs: number;
  /** Give up a job that has been put back this many times for rate limits. */
  maxDelays: number;
  /** CANCEL_NOTICES: a re-run sends a notice for a reminded meeting now cancelled (default true). */
  cancelNotices?: boolean;
  /** The locale of grants without their own (DEFAULT_LOCALE); unset: "en". */
  defaultLocale?: string;
  /** REMINDER_POLICY: for grants whose own policy is null. */
  policy: ReminderPolicy;
  /** MAX_RECIPIENTS. */
  maxRecipients: number;
  /** MIN_LEAD_MINUTES: no reminder later than this before its meeting (src/reminders/lead.ts). */
  minLeadMinutes: number;
}

export interface RunProcessorDeps {
  db: Db;
  nylas: NylasApi;
  limiter: GrantLimiter;
  ledger: Ledger;
  log: Logger;
  settings: RunProcessorSettings;
  /**
   * Asks Nylas about a grant (`GET /v3/grants/{id}`) to confirm a 401 before the grant is
   * blamed; the worker runs it under the application-wide budget. Default: `nylas.grant`.
   */
  lookupGrant?: (grantId: string) => Promise<GrantInfo>;
  /** Where a refused API key is reported (pauses the runs queue); without it the job only waits. */
  apiKey?: ApiKeyGate;
  /** Unsubscribe links and headers of the reminders; none without it. */
  unsubscribe?: UnsubscribeSettings | undefined;
}

/** How long a job that met a refused API key waits when no watch says otherwise (ms). */
const KEY_REFUSED_WAIT_MS = 30_000;

/**
 * Processes one job: one grant, one local day. Reads the day's events, selects the
 * meetings, and sends each reminder through the ledger. Safe to run again at any point:
 * what was sent is never sent again, what is missing is sent.
 */
export class RunProcessor {
  private readonly runs: RunStore;
  private readonly people: PeopleReader;

  constructor(private readonly deps: RunProcessorDeps) {
    this.runs = new RunStore(deps.db);
    this.people = new PeopleReader(deps.db);
  }

  async process(job: Job<RunJobData, RunResult>, token?: string): Promise<RunResult> {
    const { db, log: baseLog } = this.deps;
    const { grantId, day } = job.data;
    const log = baseLog.child({ grantId, day, jobId: job.id });
    const startedAt = Date.now();

    const grant = await this.runs.grant(grantId, day);
    if (!grant) throw new UnrecoverableError(`grant ${grantId} is not in the database`);
    const blocked = whyGrantCannotRun(grant);
    if (blocked !== undefined) {
      const reason = `grant ${blocked}`;
      const run = { grantId, day, timeZone: grant.timeZone };
      await (grant.status === "needs_reauth" ? this.runs.needsReauth(run, reason) : this.runs.skip(run, reason));
      log.info({ reason }, "run skipped");
      const zone = { zone: grant.timeZone, zoneSource: grant.timeZoneSource };
      return { status: "skipped", reason, sent: 0, failed: 0, meetings: 0, skipped: {}, ...zone };
    }

    const zone = { timeZone: grant.timeZone, timeZoneSource: grant.timeZoneSource };
    let window: { start: number; end: number };
    try {
      // The local day, reaching back to where the grant's earlier runs stopped when that is
      // earlier (its zone changed; see src/runs/coverage.ts).
      window = runWindow(
        localDayWindow(grant.timeZone, day),
        grant.coverageEnd,
        Math.floor(clockNow().getTime() / 1000),
      );
    } catch (err) {
      const message = (err as Error).message;
      await this.runs.fail({ grantId, day, timeZone: grant.timeZone }, message);
      log.error({ err }, "run cannot start");
      throw new UnrecoverableError(message);
    }

    // Written while the events are read; awaited before anything else about the run is
    // written (the claims, any outcome), so the run's states follow each other as before.
    const runStart = this.runs.start(grantId, day, job.id, zone, window);
    runStart.catch(() => {}); // awaited below

    const budget = this.deps.limiter.forGrant(grantId, {
      provider: grant.provider,
      maxWaitMs: this.deps.settings.inlineWaitMaxMs,
    });
    let retryReason: string;
    // What the worker was doing, should the user not have consented to it (a 403).
    let access: Access = "calendar_read";
    // Sends Nylas accepted in this attempt: after one, a 429 starts its back-off afresh.
    const accepted = { sends: 0 };
    try {
      // A re-run reads cancelled events too, to tell a reminded meeting's cancellation.
      const rerun = job.data.source === "rerun";
      const { selected, events } = await this.readMeetings(budget, grant, window, rerun);
      await runStart;
      // The suppression list and the colleagues' grants, in one read shared with other jobs.
      const people = await this.people.read(grant, selected);
      const selection = dropSuppressed(selected, people.suppressed);
      for (const problem of selection.problems.slice(0, 20))
        log.warn({ eventId: problem.eventId }, `event skipped: ${problem.reason}`);
      // Meetings another connected user's grant reminds: each person gets one reminder.
      Object.assign(selection, withoutCoveredBy(people.grants, grant, selection, this.deps.settings.policy));

      // A re-run: moved meetings marked, and a notice for each reminded meeting now gone.
      const changed = rerun
        ? await rerunMeetings(
            db,
            this.deps.ledger,
            { grantId, day, email: grant.email },
            {
              events: events ?? [],
              meetings: selection.meetings,
              findEvent: (eventId) =>
                budget.run("read", () => this.deps.nylas.event(grant.id, eventId, grant.calendarId)),
            },
            this.deps.settings.cancelNotices ?? true,
            log,
          )
        : { meetings: selection.meetings, notices: [] };
      access = "mail_send";
      // Never stale: the last step before the sends, on the meetings every other check kept.
      const minLeadSeconds = this.deps.settings.minLeadMinutes * 60;
      const lead = splitByLead(changed.meetings, Math.floor(clockNow().getTime() / 1000), minLeadSeconds);
      const outcome = await sendReminders(
        changed.notices.length > 0 ? [...lead.due, ...changed.notices] : lead.due,
        {
          grantId,
          day,
          email: grant.email,
          zone: grant.timeZone,
          locale: grant.locale ?? this.deps.settings.defaultLocale,
          concurrency: this.deps.settings.jobConcurrency,
          minLeadSeconds,
          optOut: optOutComposer(this.deps.unsubscribe, grant.provider, grant.email),
          delivery: this.deps.settings.delivery,
        },
        this.sendPorts(grant, budget, log, accepted),
      );
      // A stop concerns the whole grant: the attempt ends as if reading the events had failed.
      if (outcome.status === "stopped") throw outcome.error;
      const held = outcome.status === "held" ? outcome : undefined;
      // Too late to remind: found so by the split, or right before a send.
      const started = lead.started.length + (outcome.started ?? 0);
      const skipped = started > 0 ? { ...selection.skipped, started } : selection.skipped;
      const meetings = lead.due.length - (outcome.started ?? 0);
      const skippedTotal = Object.values(skipped).reduce<number>((a, b) => a + (b ?? 0), 0);
      const incomplete = held !== undefined;
      const finishedAt = incomplete ? null : new Date();
      // Some reminders may be held by another attempt or have failed transiently: record
      // what we know and come back; the ledger makes the next attempt send only what is missing.
      const totals = await this.runs.finish(grantId, day, {
        status: incomplete ? "running" : "completed",
        meetingsSeen: meetings + skippedTotal,
        remindersSkipped: skippedTotal,
        skippedByReason: skipped,
        lastError: held ? held.reason : null,
        finishedAt,
        durationMs: finishedAt ? finishedAt.getTime() - startedAt : null,
      });
      if (!incomplete) await this.followZoneChange(grantId, day, grant.timeZone, totals.zoneNow, log);
      const result: RunResult = {
        status: incomplete ? "incomplete" : "completed",
        meetings,
        sent: totals.sent,
        failed: totals.failed,
        ...(totals.uncertain > 0 ? { uncertain: totals.uncertain } : {}),
        skipped,
        zone: grant.timeZone,
        zoneSource: grant.timeZoneSource,
      };
      if (!held) {
        log.info({ ...result, ms: Date.now() - startedAt }, "run completed");
        return result;
      }
      // An attempt that must come back shows its progress in Bull Board (a finished job shows
      // its result); the job does not wait for it.
      void job.updateProgress({ sent: totals.sent, failed: totals.failed, meetings }).catch(() => {});
      if (!held.transient) throw await this.delay(job, token, held.retryInMs, held.reason, log);
      retryReason = held.reason;
    } catch (err) {
      // A start that failed ends the attempt with its own error, as it did before the read.
      await runStart;
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      if (err instanceof GrantBusy) throw await this.delay(job, token, err.waitMs, err.why, log);
      let failure = classifyError(err);
      const blame = failure.kind === "auth" ? await this.blameUnauthorized(grantId) : undefined;
      if (failure.kind === "auth" && blame === "api_key") {
        // Not the grant's fault, and no job can work until the key does: nothing is marked and
        // no attempt is spent; the job waits (in the delayed set, behind the paused queue).
        const reason = `API key refused by Nylas: ${describeFailure(failure)}`;
        await this.deps.apiKey?.refuse(describeFailure(failure));
        await this.runs.attemptFailed({ grantId, day, timeZone: grant.timeZone }, reason, { retrying: true });
        throw await this.park(job, token, this.deps.apiKey?.retryInMs ?? KEY_REFUSED_WAIT_MS, reason, log);
      }
      if (failure.kind === "auth" && blame === "unconfirmed") {
        // Nylas says the grant is valid (or could not say): the 401 is not the grant's to carry.
        failure = {
          ...failure,
          kind: "transient",
          message: `401 not confirmed by the grant's status: ${failure.message}`,
        };
      }
      if (failure.kind === "scope") {
        // The user did not consent to what the run needs: only signing in again can fix it.
        const reason = `re-consent needed: not allowed to ${describeAccess(grant.provider, access)}: ${describeFailure(failure)}`;
        await markGrantNeedsReauth(db, grantId, reason);
        await this.runs.needsReauth({ grantId, day, timeZone: grant.timeZone }, reason);
        log.warn({ requestId: failure.requestId }, "grant needs re-consent (403 insufficient_scopes); run stopped");
        throw new UnrecoverableError(`grant needs re-consent: ${failure.message}`);
      }
      if (failure.kind === "auth") {
        await markGrantNeedsReauth(db, grantId, describeFailure(failure));
        await this.runs.needsReauth({ grantId, day, timeZone: grant.timeZone }, describeFailure(failure));
        log.warn({ requestId: failure.requestId }, "grant needs re-authentication; run stopped");
        throw new UnrecoverableError(`grant needs re-authentication: ${failure.message}`);
      }
      if (failure.kind === "rate_limited") {
        const refusedInARow = accepted.sends > 0 ? 0 : (job.data.refusedInARow ?? 0);
        const waitMs = await this.deps.limiter.block(
          grantId,
          failure.retryAfterMs ?? backoffWithJitter(refusedInARow, 1000, 60_000),
        );
        throw await this.delay(job, token, waitMs, describeFailure(failure), log, {
          refusedInARow: failure.retryAfterMs === undefined ? refusedInARow + 1 : 0,
        });
      }
      const lastError = describeFailure(failure);
      await this.runs.attemptFailed({ grantId, day, timeZone: grant.timeZone }, lastError, {
        retrying: !isLastAttempt(job, "running") && failure.kind === "transient",
      });
      log.warn({ attemptsLeft: attemptsLeft(job, "running"), kind: failure.kind }, `run attempt failed: ${lastError}`);
      if (failure.kind === "permanent") throw new UnrecoverableError(lastError);
      throw new Error(lastError, { cause: err });
    }

    // Some reminders failed transiently: BullMQ retries the job with back-off.
    const err = new Error(`incomplete: ${retryReason}`);
    if (isLastAttempt(job, "running")) await this.runs.fail({ grantId, day, timeZone: grant.timeZone }, err.message);
    log.warn({ attemptsLeft: attemptsLeft(job, "running") }, `run attempt incomplete: ${err.message}`);
    throw err;
  }

  /**
   * The grant's zone changed while this run was in flight (it ran in the old one): its day
   * is reopened if the new zone's day reaches past what was covered, as the zone writer does
   * for runs that were already completed when it changed the zone.
   */
  private async followZoneChange(
    grantId: string,
    day: string,
    ranIn: string,
    zoneNow: string | undefined,
    log: Logger,
  ): Promise<void> {
    if (zoneNow === undefined || zoneNow === ranIn) return;
    const reopened = await this.runs.reopenForZone(grantId, zoneNow, clockNow());
    log.info({ from: ranIn, to: zoneNow, reopened }, "the grant's time zone changed during the run");
  }

  /**
   * Whose fault a 401 from the grant's data route is (see `blameUnauthorized`): asks Nylas
   * about the grant, unless this process already knows the API key is refused.
   */
  private async blameUnauthorized(grantId: string): Promise<"grant" | "api_key" | "unconfirmed"> {
    if (this.deps.apiKey?.refused) return "api_key";
    const lookup = this.deps.lookupGrant ?? ((id: string) => this.deps.nylas.grant(id));
    let check: GrantCheck;
    try {
      check = { answered: (await lookup(grantId)).status };
    } catch (err) {
      check = { failed: classifyError(err) };
    }
    return blameUnauthorized(check);
  }

  /**
   * The meetings of the window's events. The raw events come back only for a re-run, which
   * compares them with what was sent: a job holds nothing of its pages while it sends, so the
   * collector need not copy them from one young generation to the next.
   */
  private async readMeetings(
    budget: GrantBudget,
    grant: RunGrant,
    window: { start: number; end: number },
    rerun: boolean,
  ): Promise<{ selected: Selection; events?: Event[] }> {
    const events = await this.readEvents(budget, grant.id, grant.calendarId, window, rerun);
    const selected = selectMeetings(events, {
      window,
      grantEmail: grant.email,
      includeAllDay: this.deps.settings.includeAllDay,
      zone: grant.timeZone,
      policy: grant.policy ?? this.deps.settings.policy,
      maxRecipients: this.deps.settings.maxRecipients,
    });
    return rerun ? { selected, events } : { selected };
  }

  /** Every event of the window, each page's request under a read token. */
  private async readEvents(
    budget: GrantBudget,
    grantId: string,
    calendarId: string,
    window: { start: number; end: number },
    showCancelled = false,
  ): Promise<Event[]> {
    const events: Event[] = [];
    const pages = this.deps.nylas.events(
      grantId,
      { calendarId, start: window.start, end: window.end, limit: 200, expandRecurring: true, showCancelled },
      (request) => budget.run("read", request),
    );
    for await (const page of pages) events.push(...page);
    return events;
  }

  /** The send protocol's I/O for one grant. */
  private sendPorts(grant: RunGrant, budget: GrantBudget, log: Logger, accepted: { sends: number }): SendPorts {
    const { ledger, nylas, db } = this.deps;
    const grantId = grant.id;
    const findSent =
      grant.sentCheckOff === null ? sentLookup(nylas, grantId, sentCheckMethod(grant.provider)) : undefined;
    return {
      ledger,
      send: async (message, idempotencyKey) => {
        const sent = await nylas.send(grantId, message, idempotencyKey);
        accepted.sends++;
        return sent;
      },
      ...(findSent ? { findSent } : {}),
      sentCheckRefused: (reason) => turnSentCheckOff(db, grantId, reason),
      budget,
      log,
      now: clockNow,
    };
  }

  /**
   * Waits outside the worker slot without counting a delay: the wait is not this grant's
   * doing (the application's API key was refused), however long it lasts.
   */
  private async park(
    job: Job<RunJobData, RunResult>,
    token: string | undefined,
    ms: number,
    why: string,
    log: Logger,
  ): Promise<Error> {
    const jittered = await moveToDelayedJittered(job, token, ms);
    log.info({ delayMs: jittered }, `run waits: ${why}`);
    return new DelayedError(why);
  }

  /** Hands the worker slot back: the job waits in the delayed set, not in a worker. */
  private async delay(
    job: Job<RunJobData, RunResult>,
    token: string | undefined,
    ms: number,
    why: string,
    log: Logger,
    data: Pick<RunJobData, "refusedInARow"> = {},
  ): Promise<Error> {
    const delays = (job.data.delays ?? 0) + 1;
    if (delays > this.deps.settings.maxDelays) {
      await this.runs.attemptFailed(
        { grantId: job.data.grantId, day: job.data.day, timeZone: undefined },
        `gave up after ${delays - 1} delays: ${why}`,
        { retrying: false },
      );
      return new UnrecoverableError(`gave up after ${delays - 1} delays: ${why}`);
    }
    await job.updateData({ ...job.data, ...data, delays });
    const jittered = await moveToDelayedJittered(job, token, ms);
    log.info({ delayMs: jittered, delays }, `run delayed: ${why}`);
    return new DelayedError(why);
  }
}

/** Moves the job to the delayed set for `ms` plus up to 20% (at most 1 s) of jitter. */
async function moveToDelayedJittered(job: Job, token: string | undefined, ms: number): Promise<number> {
  const jittered = Math.max(50, Math.round(ms + Math.random() * Math.min(1000, ms * 0.2)));
  await job.moveToDelayed(Date.now() + jittered, token);
  return jittered;
}
