import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";
import { Coalescer } from "../db/coalesce.js";
import { scrubText } from "../log/scrub.js";

/**
 * The reminders ledger: one row per (grant, event id, event start), claimed before a send
 * and marked after it. Every path that can send (scheduler jobs, retries, stalled jobs,
 * backfills) passes through `claim`, so a reminder goes out at most once.
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
 *
 * Every send carries the row's marker as its Idempotency-Key, and a retry of a send whose
 * outcome is unknown composes the same message: the wording's instant (`composed_at`) is
 * kept while the row stays claimed.
 * - skipped: deliberately not sent (e.g. the run was cancelled); not claimed again.
 */

export interface ClaimInput {
  grantId: string;
  eventId: string;
  /** Unix seconds. */
  eventStart: number;
  day: string;
  title: string;
  recipients: { name?: string; email: string }[];
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
  | { outcome: "done"; status: "sent" | "skipped" }
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
  id: bigint;
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

// Postgres text cannot hold NUL; the title here is only a note for people reading the
// ledger, so a hostile title must not make the claim (and the whole run) fail.
// eslint-disable-next-line no-control-regex
const ledgerTitle = (title: string) => title.replace(/\u0000/g, "").slice(0, 2000);

// Every last_error written below is scrubbed first: an SDK message can quote a request.
export class Ledger {
  constructor(
    private readonly db: Db,
    private readonly settings: LedgerSettings,
  ) {}

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
      const key = `${input.grantId}\u0000${input.eventId}\u0000${input.eventStart}`;
      if (!firstIdx.has(key)) {
        firstIdx.set(key, i);
        idx.push(i);
      }
    });
    const pick = <T>(f: (input: ClaimInput) => T) => idx.map((i) => f(inputs[i]!));
    const leaseSecs = this.settings.leaseMs / 1000;
    // `prev` sees the rows as they were; the upsert only takes a row over when it is free
    // (refused before, or its lease ran out). ON CONFLICT may touch each row once, hence
    // the de-duplication above.
    const rows = await this.db.$queryRaw<ClaimRow[]>`
      WITH input AS (
        SELECT * FROM unnest(${idx}::int[], ${pick((i) => i.grantId)}::text[], ${pick((i) => i.eventId)}::text[],
                             ${pick((i) => new Date(i.eventStart * 1000).toISOString())}::timestamptz[], ${pick((i) => i.day)}::text[],
                             ${pick((i) => ledgerTitle(i.title))}::text[], ${pick((i) => JSON.stringify(i.recipients))}::jsonb[],
                             ${pick(() => randomUUID())}::text[], ${idx.map((i) => requests[i]!.composedAt?.toISOString() ?? null)}::timestamptz[])
          AS t(idx, grant_id, event_id, event_start, day, title, recipients, marker, composed_at)
      ), prev AS (
        SELECT i.idx, r.status::text AS status FROM input i
        JOIN reminders r ON r.grant_id = i.grant_id AND r.event_id = i.event_id AND r.event_start = i.event_start
      ), up AS (
        INSERT INTO reminders (grant_id, event_id, event_start, day, title, recipients, marker, status, attempts, claimed_at, composed_at, updated_at)
        SELECT grant_id, event_id, event_start, day, title, recipients, marker, 'claimed', 1, now(), composed_at, now() FROM input ORDER BY idx
        ON CONFLICT (grant_id, event_id, event_start) DO UPDATE
          -- Only a claim after a refusal counts: taking over a claim whose send timed out or
          -- whose process died is not the reminder's fault and must not exhaust it.
          SET status = 'claimed', attempts = reminders.attempts + CASE WHEN reminders.status = 'failed' THEN 1 ELSE 0 END,
              claimed_at = now(), updated_at = now(),
              day = EXCLUDED.day, title = EXCLUDED.title, recipients = EXCLUDED.recipients,
              -- Taking over a claim whose send may have gone out: the retry words the message
              -- as that attempt did, so Nylas sees the same payload under the same key.
              composed_at = CASE WHEN reminders.status = 'claimed' THEN COALESCE(reminders.composed_at, EXCLUDED.composed_at)
                                 ELSE EXCLUDED.composed_at END
          WHERE (reminders.status = 'claimed' AND reminders.claimed_at < now() - make_interval(secs => ${leaseSecs}))
             OR (reminders.status = 'failed' AND reminders.attempts < ${this.settings.maxAttempts})
        RETURNING id, marker, attempts, composed_at, grant_id, event_id, event_start
      )
      SELECT i.idx, up.id, up.marker, up.attempts, up.composed_at, prev.status AS previous
      FROM up JOIN input i ON i.grant_id = up.grant_id AND i.event_id = up.event_id AND i.event_start = up.event_start
      LEFT JOIN prev ON prev.idx = i.idx`;

    const out: (Claim | undefined)[] = inputs.map(() => undefined);
    for (const row of rows) {
      out[row.idx] = {
        outcome: "claimed",
        id: row.id,
        marker: row.marker,
        attempts: row.attempts,
        uncertain: row.previous === "claimed",
        ...(row.composed_at ? { composedAt: row.composed_at } : {}),
      };
    }
    const rest = idx.filter((i) => out[i] === undefined);
    if (rest.length > 0) {
      const states = await this.db.$queryRaw<StateRow[]>`
        SELECT i.idx, r.status::text AS status, r.attempts,
               CASE WHEN r.status = 'claimed'
                    THEN GREATEST(0, EXTRACT(EPOCH FROM (r.claimed_at + make_interval(secs => ${leaseSecs}) - now())) * 1000)::int
               END AS lease_left_ms
        FROM unnest(${rest}::int[], ${rest.map((i) => inputs[i]!.grantId)}::text[], ${rest.map((i) => inputs[i]!.eventId)}::text[],
                    ${rest.map((i) => new Date(inputs[i]!.eventStart * 1000).toISOString())}::timestamptz[]) AS i(idx, grant_id, event_id, event_start)
        JOIN reminders r ON r.grant_id = i.grant_id AND r.event_id = i.event_id AND r.event_start = i.event_start`;
      for (const s of states) out[s.idx] = stateClaim(s);
    }
    // Lost a race with a concurrent insert, or listed twice: ask again shortly.
    return out.map((c) => c ?? { outcome: "busy", retryInMs: 1000 });
  }

  /**
   * Records a send. Marks of concurrent sends (of this job and the process' others) share
   * one statement; each caller still waits for its own row.
   */
  async markSent(id: bigint, messageId: string): Promise<void> {
    await this.marks.one({ id, messageId });
  }

  private readonly marks = new Coalescer<{ id: bigint; messageId: string }, void>(async (batch) => {
    await this.db.$executeRaw`
      UPDATE reminders r SET status = 'sent', message_id = m.message_id, sent_at = now(), last_error = NULL, updated_at = now()
      FROM unnest(${batch.map((m) => m.id.toString())}::bigint[], ${batch.map((m) => m.messageId)}::text[]) AS m(id, message_id)
      WHERE r.id = m.id`;
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
      await this.db.$executeRaw`
        UPDATE reminders SET status = 'failed', last_error = ${scrubText(error)},
          attempts = GREATEST(attempts, ${this.settings.maxAttempts}), updated_at = now()
        WHERE id = ${id}`;
      return;
    }
    const handBack = opts.countAttempt === false ? 1 : 0;
    await this.db.$executeRaw`
      UPDATE reminders SET status = 'failed', last_error = ${scrubText(error)}, attempts = attempts - ${handBack}, updated_at = now()
      WHERE id = ${id}`;
  }

  /** The outcome is unknown: keep the claim but let the next attempt take it at once. */
  async release(id: bigint, error: string): Promise<void> {
    await this.db.$executeRaw`
      UPDATE reminders SET last_error = ${scrubText(error)}, claimed_at = to_timestamp(0), updated_at = now() WHERE id = ${id}`;
  }

  /**
   * Hands back claims that were never sent (the job stopped first). A claim taken over
   * from an attempt with an unknown outcome stays uncertain (released, so the next attempt
   * looks in the Sent folder); the others become refusals that cost no attempt.
   */
  async unclaim(claims: readonly { id: bigint; uncertain: boolean }[], error: string): Promise<void> {
    if (claims.length === 0) return;
    await this.db.$executeRaw`
      UPDATE reminders r SET
        status = CASE WHEN c.uncertain THEN r.status ELSE 'failed'::"ReminderStatus" END,
        attempts = r.attempts - CASE WHEN c.uncertain THEN 0 ELSE 1 END,
        claimed_at = CASE WHEN c.uncertain THEN to_timestamp(0) ELSE r.claimed_at END,
        last_error = ${scrubText(error)}, updated_at = now()
      FROM unnest(${claims.map((c) => c.id.toString())}::bigint[], ${claims.map((c) => c.uncertain)}::boolean[]) AS c(id, uncertain)
      WHERE r.id = c.id AND r.status = 'claimed'`;
  }
}

function stateClaim(s: StateRow): Claim {
  if (s.status === "sent" || s.status === "skipped") return { outcome: "done", status: s.status };
  if (s.status === "failed") return { outcome: "exhausted", attempts: s.attempts };
  return { outcome: "busy", retryInMs: Math.max(1, s.lease_left_ms ?? 1000) };
}
