import { randomUUID } from "node:crypto";
import { sqlOf, type Db, type Sql } from "../db/client.js";
import { Coalescer } from "../db/coalesce.js";
import { jsonParam } from "../db/json-param.js";
import { scrubText } from "../log/scrub.js";
import {
  CLAIM_REMINDERS,
  MARK_FAILED,
  MARK_FAILED_FINAL,
  MARK_SENT,
  MARK_SKIPPED,
  MARK_UNCERTAIN,
  READ_REMINDER_STATES,
  READ_SENT_OF_DAY,
  RELEASE,
  UNCLAIM,
} from "./sql.js";

/**
 * The reminders ledger: one row per message, (grant, event id, event start, kind, audience),
 * claimed before its send and marked after it. Every path that can send (scheduler jobs,
 * retries, stalled jobs, backfills) passes through `claim`, so a message goes out at most once.
 *
 * Row states:
 * - claimed: a send is in flight, or its outcome is unknown (a timeout, a crash). Another
 *   attempt may take it over once the lease has run out, after looking in the grant's
 *   Sent folder for the row's marker.
 * - sent:    done; never claimed again.
 * - failed:  the send was refused (4xx, 429, 401), so nothing went out; claimable again
 *   while attempts remain. Also a reminder closed for good (`final`): Nylas refused its
 *   idempotency key because the key already came with another payload, so an earlier
 *   request may have gone out; its attempts are used up and it is never claimed again.
 * - skipped: deliberately not sent (e.g. the run was cancelled, or the meeting was about to
 *   start by the time its send could go: last_error "started"); not claimed again.
 * - uncertain: an earlier attempt may have sent it, Nylas' Idempotency-Key has expired and the
 *   provider offers no check to rely on: never claimed again (at most once), and counted.
 *
 * Every send carries the row's marker as its Idempotency-Key, and a retry of a send whose
 * outcome is unknown composes the same message: the wording's instant (`composed_at`) is
 * kept while the row stays claimed.
 */

export interface ClaimInput {
  grantId: string;
  eventId: string;
  /** Unix seconds. */
  eventStart: number;
  day: string;
  title: string;
  recipients: { name?: string; email: string }[];
  /**
   * Which message of the meeting: '' for the one shared by all its recipients, otherwise the
   * lowercase address of the single recipient of a message of its own (see deliveries.ts).
   */
  audience: string;
  /** A reminder (the default), or the notice that a reminded meeting was cancelled. */
  kind?: ReminderKind;
}

export type ReminderKind = "reminder" | "cancellation";

/** A row of a day the ledger has sent (see `sentOfDay`). */
export interface SentRow {
  eventId: string;
  /** Unix seconds. */
  eventStart: number;
  kind: ReminderKind;
  title: string;
  recipients: { name?: string; email: string }[];
  /** '' for a meeting's shared message, else its one recipient's address (see deliveries.ts). */
  audience: string;
}

export type Claim =
  | {
      outcome: "claimed";
      id: bigint;
      marker: string;
      attempts: number;
      /** an earlier attempt may have sent it */ uncertain: boolean;
      /**
       * The instant the message's wording is relative to: this claim's, or, when an earlier
       * attempt may have sent it, that attempt's (so the retry sends the same message).
       */
      composedAt?: Date;
    }
  | { outcome: "done"; status: "sent" | "skipped" | "uncertain" }
  | { outcome: "busy"; /** ms until the other claim's lease runs out */ retryInMs: number }
  | { outcome: "exhausted"; attempts: number };

export interface LedgerSettings {
  /** How long a claim protects an in-flight send (ms). Must exceed the send timeout. */
  leaseMs: number;
  /** Claims of a refused send allowed before the reminder is given up. */
  maxAttempts: number;
}

interface ClaimRow {
  idx: number;
  /** int8: a string from the driver, a BigInt through Prisma. */
  id: bigint | string;
  marker: string;
  attempts: number;
  previous: string | null;
  composed_at: Date | null;
}

/** A claim with the instant its message will be worded for. */
interface ClaimRequest {
  input: ClaimInput;
  composedAt: Date | undefined;
}

interface StateRow {
  idx: number;
  status: string;
  attempts: number;
  lease_left_ms: number | null;
}

// The title here is only a note for people reading the ledger; what Postgres cannot store in
// it (a NUL, a lone surrogate) jsonParam takes out, so a hostile title cannot fail the claim.
const ledgerTitle = (title: string) => title.slice(0, 2000);

// Every last_error written below is scrubbed first: an SDK message can quote a request.
export class Ledger {
  private readonly sql: Sql;

  constructor(
    private readonly db: Db,
    private readonly settings: LedgerSettings,
  ) {
    this.sql = sqlOf(db);
  }

  async claim(input: ClaimInput, opts: { composedAt?: Date } = {}): Promise<Claim> {
    return (await this.claimMany([input], opts))[0]!;
  }

  /**
   * Claims several reminders in one statement (a job claims its meetings together), with
   * each row's outcome exactly as `claim` would give it, in input order. A row listed
   * twice (here or by a concurrent caller) is claimed once; the other entry reports busy.
   * `composedAt` (the caller's calendar clock) is what a claimed reminder is worded for,
   * unless the row was taken over from an attempt that may have sent it: then that
   * attempt's instant is kept and returned.
   */
  claimMany(inputs: readonly ClaimInput[], opts: { composedAt?: Date } = {}): Promise<Claim[]> {
    return this.claims.run(inputs.map((input) => ({ input, composedAt: opts.composedAt })));
  }

  /** One statement for the claims of every job that asked meanwhile (see Coalescer). */
  private readonly claims = new Coalescer<ClaimRequest, Claim>((requests) => this.writeClaims(requests));

  private async writeClaims(requests: readonly ClaimRequest[]): Promise<Claim[]> {
    const inputs = requests.map((r) => r.input);
    const firstIdx = new Map<string, number>();
    const idx: number[] = [];
    inputs.forEach((input, i) => {
      const key = [input.grantId, input.eventId, input.eventStart, kindOf(input), input.audience].join("\u0000");
      if (!firstIdx.has(key)) {
        firstIdx.set(key, i);
        idx.push(i);
      }
    });
    const leaseSecs = this.settings.leaseMs / 1000;
    // One row per (grant, event id, event start, kind, audience): ON CONFLICT may touch each row
    // once, hence the de-duplication above (see CLAIM_REMINDERS).
    const claims = idx.map((i) => {
      const input = inputs[i]!;
      return {
        ...keyOf(i, input),
        day: input.day,
        title: ledgerTitle(input.title),
        recipients: input.recipients,
        marker: randomUUID(),
        composed_at: requests[i]!.composedAt?.toISOString() ?? null,
      };
    });
    const rows = await this.sql.query<ClaimRow>(CLAIM_REMINDERS, [
      jsonParam(claims),
      leaseSecs,
      this.settings.maxAttempts,
    ]);

    const out: (Claim | undefined)[] = inputs.map(() => undefined);
    for (const row of rows) {
      out[row.idx] = {
        outcome: "claimed",
        id: BigInt(row.id),
        marker: row.marker,
        attempts: row.attempts,
        uncertain: row.previous === "claimed",
        ...(row.composed_at ? { composedAt: row.composed_at } : {}),
      };
    }
    const rest = idx.filter((i) => out[i] === undefined);
    if (rest.length > 0) {
      const states = await this.sql.query<StateRow>(READ_REMINDER_STATES, [
        jsonParam(rest.map((i) => keyOf(i, inputs[i]!))),
        leaseSecs,
      ]);
      for (const s of states) out[s.idx] = stateClaim(s);
    }
    // Lost a race with a concurrent insert, or listed twice: ask again shortly.
    return out.map((c) => c ?? { outcome: "busy", retryInMs: 1000 });
  }

  /** Every row of a grant's day that was sent, oldest send first (a re-run compares the day with them). */
  async sentOfDay(grantId: string, day: string): Promise<SentRow[]> {
    const rows = await this.db.$queryRawUnsafe<(Omit<SentRow, "eventStart"> & { eventStart: Date })[]>(
      READ_SENT_OF_DAY,
      grantId,
      day,
    );
    return rows.map((r) => ({ ...r, eventStart: r.eventStart.getTime() / 1000 }));
  }

  /**
   * Records a send. Marks of concurrent sends (of this job and the process' others) share
   * one statement; each caller still waits for its own row.
   */
  async markSent(id: bigint, messageId: string): Promise<void> {
    await this.marks.one({ id, messageId });
  }

  private readonly marks = new Coalescer<{ id: bigint; messageId: string }, void>(async (batch) => {
    await this.sql.query(MARK_SENT, [batch.map((m) => m.id.toString()), batch.map((m) => m.messageId)]);
    return batch.map(() => undefined);
  });

  /**
   * The send was refused: nothing went out. A refusal that is not the reminder's fault
   * (the grant's budget, a 401) hands the attempt back so it cannot exhaust the reminder.
   * A `final` refusal uses up every attempt: the reminder is never claimed again (Nylas
   * refused its idempotency key, and an earlier request under it may have gone out).
   */
  async markFailed(id: bigint, error: string, opts: { countAttempt?: boolean; final?: boolean } = {}): Promise<void> {
    if (opts.final) {
      await this.db.$executeRawUnsafe(MARK_FAILED_FINAL, id, scrubText(error), this.settings.maxAttempts);
      return;
    }
    const handBack = opts.countAttempt === false ? 1 : 0;
    await this.db.$executeRawUnsafe(MARK_FAILED, id, scrubText(error), handBack);
  }

  /** Whether it went out can no longer be known: closed, never sent again. */
  async markUncertain(id: bigint, error: string): Promise<void> {
    await this.db.$executeRawUnsafe(MARK_UNCERTAIN, id, scrubText(error));
  }

  /**
   * Too late to send: the meeting starts within the lead time (src/reminders/lead.ts).
   * Closed as skipped with the reason "started", never claimed again.
   */
  async markStarted(id: bigint): Promise<void> {
    await this.db.$executeRawUnsafe(MARK_SKIPPED, id, "started");
  }

  /** The outcome is unknown: keep the claim but let the next attempt take it at once. */
  async release(id: bigint, error: string): Promise<void> {
    await this.db.$executeRawUnsafe(RELEASE, id, scrubText(error));
  }

  /**
   * Hands back claims that were never sent (the job stopped first). A claim taken over
   * from an attempt with an unknown outcome stays uncertain (released, so the next attempt
   * looks in the Sent folder); the others become refusals that cost no attempt.
   */
  async unclaim(claims: readonly { id: bigint; uncertain: boolean }[], error: string): Promise<void> {
    if (claims.length === 0) return;
    await this.db.$executeRawUnsafe(
      UNCLAIM,
      claims.map((c) => c.id.toString()),
      claims.map((c) => c.uncertain),
      scrubText(error),
    );
  }
}

const kindOf = (input: ClaimInput): ReminderKind => input.kind ?? "reminder";

/** A claim's row key as the ledger's statements take it (CLAIM_REMINDERS), with its index. */
const keyOf = (idx: number, input: ClaimInput) => ({
  idx,
  grant_id: input.grantId,
  event_id: input.eventId,
  start_s: input.eventStart,
  kind: kindOf(input),
  audience: input.audience,
});

function stateClaim(s: StateRow): Claim {
  if (s.status === "sent" || s.status === "skipped" || s.status === "uncertain")
    return { outcome: "done", status: s.status };
  if (s.status === "failed") return { outcome: "exhausted", attempts: s.attempts };
  return { outcome: "busy", retryInMs: Math.max(1, s.lease_left_ms ?? 1000) };
}
