import pLimit from "p-limit";
import type { Logger } from "../log/logger.js";
import type { OutgoingMessage } from "../nylas/client.js";
import { classifyError, describeFailure, type Failure } from "../nylas/errors.js";
import type { GrantBudget } from "../nylas/grant-limiter.js";
import { toDeliveries, type Delivery, type DeliveryMode } from "./deliveries.js";
import type { Claim, Ledger } from "./ledger.js";
import { isStarted } from "./lead.js";
import type { EmailAddress, Meeting } from "./meeting.js";
import type { MessageOptOut } from "../optout/message.js";
import { MARKER_HEADER, NoSentFolder, type SentLookup } from "./sent-check.js";
import { composeCancellation } from "./cancellation.js";
import { composeReminder } from "./template.js";

/**
 * The send protocol of one grant's day, for each message (a meeting's shared one, or one per
 * recipient: see deliveries.ts): claim it in the ledger, look in the Sent folder when an
 * earlier attempt may have sent it, compose, send, mark. Its I/O
 * comes in as ports, so every outcome of every step can be tested without a network.
 *
 * What the protocol promises: a reminder is sent only under a claim; a claim whose send
 * may have gone out is kept (released as uncertain), never handed back as unsent; a
 * refusal that is not the reminder's fault (401, 429, a spent budget) does not count
 * against it; every send is recorded, or released as uncertain, before the outcome is
 * returned.
 *
 * Every send carries the claim's marker as its Idempotency-Key, and a retry composes the
 * same message (same meeting, same marker, the same instant for "today"/"tomorrow", kept on
 * the ledger row), so within Nylas' hour a retry of a send that went out is answered with
 * the first answer instead of going out again, even where the Sent-folder check finds
 * nothing.
 *
 * Never stale: right before each send (once its token is in hand: waiting for the grant's
 * send budget takes time) a meeting that now starts within the lead time is not sent; its
 * claim is closed as skipped "started" and counted in the outcome.
 */

/** The I/O of the protocol, bound to one grant. */
export interface SendPorts {
  ledger: Pick<
    Ledger,
    "claimMany" | "unclaim" | "markSent" | "markFailed" | "release" | "markUncertain" | "markStarted"
  >;
  /**
   * Sends a message as the grant under Nylas' Idempotency-Key; the provider's message id, and
   * whether the answer was Nylas' kept answer to an earlier request with that key.
   */
  send(message: OutgoingMessage, idempotencyKey: string): Promise<{ id: string; replayed?: boolean }>;
  /**
   * Finds a reminder an earlier attempt may have sent in the grant's mailbox; absent when the
   * grant's provider has no check to rely on, or its user did not let the worker read mail.
   */
  findSent?: SentLookup;
  /** The check was refused for a missing scope (403): it is not made for this grant again. */
  sentCheckRefused?(reason: string): Promise<void>;
  /** The grant's request budgets: the Sent-folder check runs under "read", each send under "send". */
  budget: GrantBudget;
  log: Pick<Logger, "info" | "warn">;
  /** The calendar clock, for the reminder's "today"/"tomorrow" (recorded with each claim). */
  now(): Date;
}

export interface SendContext {
  grantId: string;
  day: string;
  /** The grant's address: the reminder's sender. */
  email: string;
  /** The grant's zone: the reminder's times. */
  zone: string;
  /** The grant's locale (its own, else the deployment's): the reminder's words and dates; unset: "en". */
  locale?: string;
  /** Sends (with their Sent-folder checks) in flight at once. */
  concurrency: number;
  /** MIN_LEAD_MINUTES in seconds: a meeting starting sooner than this after `now()` is not sent. */
  minLeadSeconds: number;
  /** The unsubscribe link and headers of a message to these recipients (src/optout/message.ts). */
  optOut?: ((recipients: readonly EmailAddress[]) => MessageOptOut) | undefined;
  /** One message per meeting where allowed (default), or one per recipient always. */
  delivery?: DeliveryMode;
}

export type SendOutcome = SendStatus & {
  /**
   * Meetings with a claim closed unsent because the meeting was about to start (absent: none);
   * meetings, not messages: the run counts its skips by meeting.
   */
  started?: number;
};

type SendStatus =
  /** Every message is settled: sent, found already sent, refused, given up, or done before. */
  | { status: "done" }
  /**
   * Some reminders must be tried again: held by another attempt (come back after
   * `retryInMs`), or, when `transient`, a send or a mark failed in a way that calls for a
   * retry with back-off.
   */
  | { status: "held"; retryInMs: number; reason: string; transient: boolean }
  /**
   * The grant cannot go on now: a 401, a 429 (the grant is already blocked for its
   * Retry-After), a budget spent for longer than the caller waits (`GrantBusy`), or a
   * failure of the ledger or the limiter. Claims no send had started on were handed back.
   */
  | { status: "stopped"; error: unknown };

/**
 * Meetings claimed per ledger statement. A claim's lease must outlast the wait for its
 * send (the grant's send budget spaces them), so a long day is claimed a slice at a time.
 */
export const CLAIM_CHUNK = 25;

/** How far back the Sent folder is searched for a reminder, before its meeting's start. */
const SENT_CHECK_SPAN_S = 7 * 86_400;

/**
 * How long after a reminder's first claim a retry trusts Nylas' Idempotency-Key to answer
 * instead of sending again. Nylas keeps a key's answer for an hour from the first request,
 * which comes after the claim; the margin covers clock skew.
 */
export const KEY_TRUSTED_MS = 50 * 60_000;

type ClaimedClaim = Extract<Claim, { outcome: "claimed" }>;

/** Why and for how long a reminder must come back. */
interface Hold {
  ms: number;
  why: string;
  transient?: boolean;
}

/** What one message's step left to do. */
type Step =
  | { kind: "settled" }
  | { kind: "held"; hold: Hold }
  /** Too late to send: closed as skipped "started". */
  | { kind: "started" }
  /** Sent; the mark is being written (a hold when it could not be). */
  | { kind: "sent"; marked: Promise<Hold | undefined> }
  /** Concerns the whole grant: the messages still queued are not tried. */
  | { kind: "stop"; error: unknown };

export async function sendReminders(
  meetings: readonly Meeting[],
  ctx: SendContext,
  ports: SendPorts,
): Promise<SendOutcome> {
  const limit = pLimit(ctx.concurrency);
  let held: { retryInMs: number; reason: string; transient: boolean } | undefined;
  let stop: { error: unknown } | undefined;
  // Set the moment a send meets a 401 or a 429, before its step has ended: a send that waited
  // for its token meanwhile stays unsent, so nothing reaches Nylas after the stopping answer.
  let halted = false;
  const gate: SendGate = { stopped: () => halted || stop !== undefined, halt: () => (halted = true) };
  const marks: Promise<Hold | undefined>[] = [];
  const started = new Set<Meeting>();
  // The job comes back once the longest hold is over; a transient one calls for a retry.
  const hold = (h: Hold) => {
    held = {
      retryInMs: held ? Math.max(held.retryInMs, h.ms) : h.ms,
      reason: h.why,
      transient: (held?.transient ?? false) || h.transient === true,
    };
  };

  const deliveries = toDeliveries(meetings, ctx.delivery);
  for (let from = 0; from < deliveries.length && !stop; from += CLAIM_CHUNK) {
    const chunk = deliveries.slice(from, from + CLAIM_CHUNK);
    let claims: Claim[];
    try {
      claims = await ports.ledger.claimMany(
        chunk.map(({ meeting: m, audience, recipients }) => ({
          grantId: ctx.grantId,
          eventId: m.eventId,
          eventStart: m.start,
          day: ctx.day,
          title: m.title,
          recipients,
          audience,
          ...(m.cancelled ? { kind: "cancellation" as const } : {}),
        })),
        { composedAt: ports.now() },
      );
    } catch (error) {
      stop = { error };
      break;
    }
    // Claims no send has started on yet: handed back if the job stops before them.
    const untouched = new Set(claims.filter((c): c is ClaimedClaim => c.outcome === "claimed"));
    await Promise.all(
      chunk.map((delivery, k) =>
        limit(async () => {
          if (gate.stopped()) return;
          const claim = claims[k]!;
          if (claim.outcome === "claimed") untouched.delete(claim);
          let step: Step;
          try {
            step = await sendOne(delivery, claim, ctx, ports, gate);
          } catch (error) {
            step = { kind: "stop", error };
          }
          if (step.kind === "held") hold(step.hold);
          else if (step.kind === "sent") marks.push(step.marked);
          else if (step.kind === "started") started.add(delivery.meeting);
          // The messages still queued return at once (p-limit's clearQueue would leave
          // their promises unsettled).
          else if (step.kind === "stop") stop ??= { error: step.error };
        }),
      ),
    );
    if (stop && untouched.size > 0) {
      try {
        await ports.ledger.unclaim([...untouched], "not sent: the run stopped before this reminder");
      } catch (error) {
        stop = { error };
      }
    }
  }
  // Every send is recorded (or released as uncertain) before the outcome is known, even
  // when the job stops for the grant's sake.
  for (const h of await Promise.all(marks)) if (h) hold(h);
  const closed = started.size > 0 ? { started: started.size } : {};
  if (stop) return { status: "stopped", error: stop.error, ...closed };
  return held ? { status: "held", ...held, ...closed } : { status: "done", ...closed };
}

/** A send that had waited for its token while the job stopped: not sent. */
class StoppedBeforeSend extends Error {
  override name = "StoppedBeforeSend";
}

/** A send whose meeting, by the time its token came, starts within the lead time: not sent. */
class StartedBeforeSend extends Error {
  override name = "StartedBeforeSend";
}

interface SendGate {
  stopped(): boolean;
  /** A send met an answer that stops the job. */
  halt(): void;
}

async function sendOne(
  delivery: Delivery,
  claim: Claim,
  ctx: SendContext,
  ports: SendPorts,
  gate: SendGate,
): Promise<Step> {
  const { ledger, log } = ports;
  const meeting = delivery.meeting;
  if (claim.outcome === "done" || claim.outcome === "exhausted") return { kind: "settled" };
  if (claim.outcome === "busy")
    return {
      kind: "held",
      hold: { ms: claim.retryInMs, why: `reminder for ${meeting.eventId} is held by another attempt` },
    };

  // Deterministic: the meeting, the grant, the marker and the claim's wording instant (an
  // earlier attempt's when this one retries it), never the moment of this attempt.
  const optOut = ctx.optOut?.(delivery.recipients);
  const message = (meeting.cancelled ? composeCancellation : composeReminder)(meeting, {
    zone: ctx.zone,
    senderEmail: ctx.email,
    marker: claim.marker,
    now: claim.composedAt ?? ports.now(),
    ...(optOut ? { unsubscribeUrl: optOut.url } : {}),
    locale: ctx.locale,
  });
  if (claim.uncertain) {
    const resolved = await resolveUncertain(delivery, claim, message.subject, ports);
    if (resolved) return resolved;
  }

  let sending = false;
  let sent: { id: string; replayed?: boolean };
  try {
    sent = await ports.budget.run("send", () => {
      // The job stopped (a 401, a 429) while this send waited for its token: it stays unsent,
      // so nothing reaches Nylas for the grant after the answer that stopped the job.
      if (gate.stopped()) throw new StoppedBeforeSend();
      const nowUnix = Math.floor(ports.now().getTime() / 1000);
      if (isStarted(meeting.start, nowUnix, ctx.minLeadSeconds)) throw new StartedBeforeSend();
      sending = true;
      return haltOnStop(
        gate,
        ports.send(
          {
            to: delivery.recipients,
            subject: message.subject,
            body: message.html,
            customHeaders: [{ name: MARKER_HEADER, value: claim.marker }, ...(optOut?.headers ?? [])],
          },
          claim.marker,
        ),
      );
    });
  } catch (error) {
    if (error instanceof StartedBeforeSend) {
      await ledger.markStarted(claim.id);
      log.info({ eventId: meeting.eventId }, "reminder not sent: the meeting starts within the lead time");
      return { kind: "started" };
    }
    if (!sending) {
      // No token (a spent budget, a 429 block, Redis): nothing went out.
      const why =
        error instanceof StoppedBeforeSend
          ? "not sent: the run stopped before this reminder"
          : "not sent: grant budget spent";
      await ledger.markFailed(claim.id, why, { countAttempt: false });
      return { kind: "stop", error };
    }
    return sendFailed(error, meeting, claim, ports);
  }
  if (sent.replayed)
    log.info(
      { eventId: meeting.eventId, messageId: sent.id },
      "reminder already sent under its Idempotency-Key (Idempotent-Response); not sent again",
    );
  // The slot goes on to the next send while the mark is written; the caller waits for
  // every mark before it reports.
  return { kind: "sent", marked: recordSent(claim, sent.id, meeting, ports) };
}

/** Halts the job's other sends at once when this one meets a 401, a 403 for a scope or a 429. */
async function haltOnStop<T>(gate: SendGate, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    const kind = classifyError(error).kind;
    if (kind === "auth" || kind === "scope" || kind === "rate_limited") gate.halt();
    throw error;
  }
}

/**
 * An earlier attempt claimed this reminder and never recorded the outcome: it may have died
 * between the send and the ledger update. The mailbox is asked where the provider allows a
 * check to be relied on; otherwise Nylas' Idempotency-Key answers a retry within its hour;
 * past it, with nothing to ask, the reminder is recorded as uncertain and never sent again.
 * Undefined: send (under the same key).
 */
async function resolveUncertain(
  { meeting, recipients }: Delivery,
  claim: ClaimedClaim,
  subject: string,
  ports: SendPorts,
): Promise<Step | undefined> {
  const { ledger, log } = ports;
  let checked = false;
  if (ports.findSent) {
    const findSent = ports.findSent;
    const since = claim.composedAt ? claim.composedAt.getTime() / 1000 - 60 : meeting.start - SENT_CHECK_SPAN_S;
    const query = { marker: claim.marker, subject, recipients, sinceUnix: since };
    let found: string | undefined;
    try {
      found = await ports.budget.run("read", () => findSent(query));
      checked = true;
    } catch (error) {
      const failure = classifyError(error);
      if (failure.kind === "scope" || error instanceof NoSentFolder) {
        const why = failure.kind === "scope" ? describeFailure(failure) : (error as Error).message;
        await ports.sentCheckRefused?.(`Sent check refused: ${why}`);
        log.warn({ eventId: meeting.eventId }, `Sent check not possible: ${why}`);
      } else {
        await blockOn429(ports, failure);
        // Still unknown: keep it uncertain for the next attempt, without waiting out a lease.
        await ledger.release(claim.id, "Sent folder not checked: " + describeFailure(failure));
        return { kind: "stop", error };
      }
    }
    if (found) {
      await ledger.markSent(claim.id, found);
      log.info({ eventId: meeting.eventId, messageId: found }, "reminder found in Sent folder; not sent again");
      return { kind: "settled" };
    }
  }
  if (checked) return undefined;
  const firstClaim = claim.composedAt?.getTime();
  if (firstClaim !== undefined && ports.now().getTime() - firstClaim < KEY_TRUSTED_MS) return undefined;
  const why =
    "uncertain: an earlier attempt may have sent it, its Idempotency-Key has expired and the mailbox cannot be checked; not sent again";
  await ledger.markUncertain(claim.id, why);
  log.warn({ eventId: meeting.eventId }, `reminder ${why}`);
  return { kind: "settled" };
}

async function sendFailed(error: unknown, meeting: Meeting, claim: ClaimedClaim, ports: SendPorts): Promise<Step> {
  const { ledger, log } = ports;
  const failure = classifyError(error);
  const text = describeFailure(failure);
  switch (failure.kind) {
    // Neither is the reminder's fault, so the refused claim does not count against it.
    case "auth":
    case "scope":
      await ledger.markFailed(claim.id, text, { countAttempt: false });
      return { kind: "stop", error };
    case "rate_limited":
      await blockOn429(ports, failure);
      await ledger.markFailed(claim.id, text, { countAttempt: false });
      return { kind: "stop", error };
    case "permanent":
      if (failure.neverResend) {
        // Nylas refused the key: it came before with another payload (the meeting changed
        // between attempts), and that request may have gone out. Closed for good.
        const why = `${text} (never sent again: an earlier send under this reminder's Idempotency-Key may have gone out)`;
        await ledger.markFailed(claim.id, why, { final: true });
        log.warn({ eventId: meeting.eventId, requestId: failure.requestId }, `reminder closed: ${why}`);
        return { kind: "settled" };
      }
      await ledger.markFailed(claim.id, text);
      log.warn({ eventId: meeting.eventId, requestId: failure.requestId }, `reminder refused: ${text}`);
      return { kind: "settled" };
    case "transient":
      // Unknown whether it went out (a timeout, a 5xx, or Nylas still working on the first
      // request with this key): keep the claim, let the next attempt check, then retry under
      // the same key.
      await ledger.release(claim.id, text);
      log.warn({ eventId: meeting.eventId, requestId: failure.requestId }, `reminder send uncertain: ${text}`);
      return { kind: "held", hold: { ms: 0, why: text, transient: true } };
  }
}

/**
 * Marks a send in the ledger. If the mark cannot be written, the reminder went out but the
 * ledger does not know: its claim is released as uncertain, and the next attempt finds
 * the message in the Sent folder instead of sending it again.
 */
function recordSent(
  claim: ClaimedClaim,
  messageId: string,
  meeting: Meeting,
  ports: SendPorts,
): Promise<Hold | undefined> {
  return ports.ledger.markSent(claim.id, messageId).then(
    () => undefined,
    async (err: unknown) => {
      const why = `sent, not recorded: ${describeFailure(classifyError(err))}`;
      await ports.ledger.release(claim.id, why).catch(() => {});
      ports.log.warn({ eventId: meeting.eventId, messageId }, why);
      return { ms: 0, why, transient: true };
    },
  );
}

/**
 * A 429 holds the whole grant at once, before this call yields: the job's other requests,
 * already waiting for a token, must not reach Nylas before Retry-After.
 */
async function blockOn429(ports: SendPorts, failure: Failure): Promise<void> {
  if (failure.kind !== "rate_limited") return;
  await ports.budget.block(failure.retryAfterMs ?? 1000).catch(() => {});
}
