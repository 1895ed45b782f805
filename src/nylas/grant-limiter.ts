import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

// Per-grant request budgets in Redis, shared by every worker process: GCRA, with serial
// budgets that space arrivals, not only tokens (why that bounds arrivals: docs/rate-limiter.md).

const script = (name: string) => readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), "utf8");
const TAKE = script("grant-take");
const TAKE_MANY = script("grant-take-many");
const SETTLE = script("grant-settle");
const BLOCK = script("grant-block");

export type Budget = "read" | "send";

export interface Rate {
  /** Requests per second. */
  perSecond: number;
  /** Requests allowed back to back before spacing applies (1 = strictly even). */
  burst?: number;
  /**
   * Extra ms between two requests, added to the interval. Serial budgets need none against
   * jitter; it remains for providers whose own counting is coarser.
   */
  marginMs?: number;
  /**
   * One request in flight per grant and budget, the next one an interval after the previous
   * one settled, so the budget holds by arrival at the provider. Defaults to true when
   * `burst` is 1 and false otherwise; when true, `burst` is treated as 1.
   */
  serial?: boolean;
}

export interface LimiterSettings {
  prefix: string;
  read: Rate;
  send: Rate;
  /** Send budgets by provider name ("google", "microsoft", ...), overriding `send`. */
  sendByProvider?: Record<string, Rate>;
  /**
   * How long an unsettled request of a serial budget holds the next one (ms, default
   * 30 000). It only matters when a process died mid-request; it must exceed the HTTP
   * request timeout (plus the time to call `settle`), or a slow live request could lose its
   * mark and let the next one overlap it.
   */
  inFlightLeaseMs?: number;
}

const DEFAULT_LEASE_MS = 30_000;

/**
 * Longest wait for which `run` reserves a non-serial budget's token instead of polling for
 * it: a reserved request sleeps, then goes without asking Redis again (one script per
 * request instead of one per poll). A 429 block set during that sleep does not hold it back,
 * as it does not hold back a request already in flight; the horizon bounds how many can.
 */
const RESERVE_MAX_MS = 100;

type ScriptClient = Redis & {
  grantTake(
    tatKey: string,
    blockKey: string,
    flightKey: string,
    interval: number,
    burst: number,
    leaseMs: number,
  ): Promise<number>;
  grantTakeMany(
    tatKey: string,
    blockKey: string,
    interval: number,
    burst: number,
    count: number,
    reserveMs: number,
  ): Promise<number[]>;
  grantSettle(tatKey: string, flightKey: string, interval: number): Promise<number>;
  grantBlock(key: string, ms: number): Promise<number>;
};

/**
 * A grant's budget is spent for longer than the caller will wait in place (`maxWaitMs`):
 * nothing was taken and the request did not run. A job hands its worker slot back for
 * `waitMs` (a 429's block, or a spent budget) instead of sleeping through it.
 */
export class GrantBusy extends Error {
  constructor(
    readonly waitMs: number,
    readonly why: string,
  ) {
    super(`grant busy for ${waitMs} ms (${why})`);
  }
}

export interface RunOptions {
  /** The grant's provider, which picks its send budget. */
  provider?: string;
  /** Longest wait for a token slept in place; a longer one throws `GrantBusy`. */
  maxWaitMs: number;
}

/** One grant's budgets, bound to its provider and the caller's longest wait. */
export interface GrantBudget {
  /** `GrantLimiter.run` for this grant. */
  run<T>(budget: Budget, request: () => Promise<T>): Promise<T>;
  /** `GrantLimiter.block` for this grant. */
  block(ms: number): Promise<number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sleeps at least `ms` from now. A timer counts from the event loop's cached clock, which
 * lags when the loop has been busy, so it can fire that much early; a reserved request must
 * never start before its token's time.
 */
async function sleepAtLeast(ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await sleep(Math.ceil(left));
}

/** Takes of one grant's non-serial budget that asked in the same turn of the event loop. */
interface TakeBatch {
  grantId: string;
  budget: Budget;
  provider: string | undefined;
  reserveMs: number;
  waiters: { resolve(waitMs: number): void; reject(err: unknown): void }[];
}

export class GrantLimiter {
  private readonly redis: ScriptClient;
  /** Non-serial takes gathering until the current turn ends, by grant, budget and horizon. */
  private readonly gathering = new Map<string, TakeBatch>();

  constructor(
    redis: Redis,
    private readonly settings: LimiterSettings,
  ) {
    const client = redis as unknown as Partial<ScriptClient>;
    if (!client.grantTake) redis.defineCommand("grantTake", { numberOfKeys: 3, lua: TAKE });
    if (!client.grantTakeMany) redis.defineCommand("grantTakeMany", { numberOfKeys: 2, lua: TAKE_MANY });
    if (!client.grantSettle) redis.defineCommand("grantSettle", { numberOfKeys: 2, lua: SETTLE });
    if (!client.grantBlock) redis.defineCommand("grantBlock", { numberOfKeys: 1, lua: BLOCK });
    this.redis = redis as unknown as ScriptClient;
  }

  rateFor(budget: Budget, provider?: string): Rate {
    if (budget === "read") return this.settings.read;
    return (provider && this.settings.sendByProvider?.[provider]) || this.settings.send;
  }

  /**
   * Runs one request under the grant's budget: takes a token (sleeping through waits up to
   * `maxWaitMs`, throwing `GrantBusy` for longer ones, before the request runs), runs the
   * request, and settles the token once it has answered or failed: a successful take is
   * settled exactly once, and the caller has nothing to pair.
   */
  async run<T>(grantId: string, budget: Budget, request: () => Promise<T>, opts: RunOptions): Promise<T> {
    await this.acquire(grantId, budget, opts);
    try {
      return await request();
    } finally {
      // Not awaited: until the settle lands, the grant's next take sees the request in
      // flight and polls, so the caller's answer need not wait for Redis.
      this.settle(grantId, budget, opts.provider).catch(() => {});
    }
  }

  /** `run` and `block` bound to one grant, for the requests of one job. */
  forGrant(grantId: string, opts: RunOptions): GrantBudget {
    return {
      run: (budget, request) => this.run(grantId, budget, request, opts),
      block: (ms) => this.block(grantId, ms),
    };
  }

  /**
   * Takes one request from the grant's budget. Returns 0 when taken, otherwise how many
   * ms to wait before asking again (nothing is taken then). A 429 block comes first; while
   * another request of a serial budget is in flight the wait is short (at most one
   * interval), so poll again rather than give up. A 0 on a serial budget must be followed
   * by one `settle` once the request has answered; `run` does both.
   */
  async take(grantId: string, budget: Budget, provider?: string): Promise<number> {
    const rate = this.rateFor(budget, provider);
    const serial = serialOf(rate);
    const burst = serial ? 1 : Math.max(1, rate.burst ?? 1);
    const lease = serial ? Math.max(1, Math.ceil(this.settings.inFlightLeaseMs ?? DEFAULT_LEASE_MS)) : 0;
    return Number(
      await this.redis.grantTake(
        this.key(grantId, budget),
        this.blockKey(grantId),
        this.flightKey(grantId, budget),
        intervalOf(rate),
        burst,
        lease,
      ),
    );
  }

  /**
   * The request that took a token has answered (success or failure): ends its flight and,
   * for a serial budget, holds the next take until one interval from now. Exactly once per
   * successful `take` (also when the request failed or was never sent), never after a
   * refused one. Free for non-serial budgets (no Redis call).
   */
  async settle(grantId: string, budget: Budget, provider?: string): Promise<void> {
    const rate = this.rateFor(budget, provider);
    if (!serialOf(rate)) return;
    await this.redis.grantSettle(this.key(grantId, budget), this.flightKey(grantId, budget), intervalOf(rate));
  }

  /** Holds back every request of the grant for `ms` (after a 429). Returns the ms left. */
  async block(grantId: string, ms: number): Promise<number> {
    return Number(await this.redis.grantBlock(this.blockKey(grantId), Math.max(1, Math.ceil(ms))));
  }

  /** Takes a token, sleeping only for short waits. */
  private async acquire(grantId: string, budget: Budget, opts: RunOptions): Promise<void> {
    const serial = serialOf(this.rateFor(budget, opts.provider));
    for (;;) {
      const reserve = Math.min(opts.maxWaitMs, RESERVE_MAX_MS);
      const waitMs = serial
        ? await this.take(grantId, budget, opts.provider)
        : await this.takeTogether(grantId, budget, opts.provider, reserve);
      if (waitMs === 0) return;
      if (waitMs < 0) return sleepAtLeast(-waitMs);
      if (waitMs > opts.maxWaitMs) throw new GrantBusy(waitMs, `${budget} budget of grant spent`);
      await sleep(waitMs);
    }
  }

  /**
   * `take` for a non-serial budget, gathered, also taking a token due within `reserveMs`
   * (returned as -wait): the takes of one grant's budget made in the same turn of the event
   * loop (a job's sends started side by side) go to Redis as one script, which takes them in
   * order as separate calls at that instant would.
   */
  private takeTogether(grantId: string, budget: Budget, provider: string | undefined, reserveMs: number) {
    const key = `${budget}\n${grantId}\n${provider ?? ""}\n${reserveMs}`;
    let batch = this.gathering.get(key);
    if (!batch) {
      const fresh: TakeBatch = { grantId, budget, provider, reserveMs, waiters: [] };
      this.gathering.set(key, fresh);
      // After the promise callbacks of this turn: every take they start joins the batch.
      process.nextTick(() => {
        this.gathering.delete(key);
        void this.takeBatch(fresh);
      });
      batch = fresh;
    }
    const joined = batch;
    return new Promise<number>((resolve, reject) => joined.waiters.push({ resolve, reject }));
  }

  private async takeBatch(batch: TakeBatch): Promise<void> {
    const rate = this.rateFor(batch.budget, batch.provider);
    try {
      const waits = await this.redis.grantTakeMany(
        this.key(batch.grantId, batch.budget),
        this.blockKey(batch.grantId),
        intervalOf(rate),
        Math.max(1, rate.burst ?? 1),
        batch.waiters.length,
        batch.reserveMs,
      );
      batch.waiters.forEach((w, i) => w.resolve(Number(waits[i])));
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    }
  }

  private key(grantId: string, budget: Budget): string {
    return `${this.settings.prefix}:rl:${budget}:${grantId}`;
  }

  private flightKey(grantId: string, budget: Budget): string {
    return `${this.settings.prefix}:rl:flight:${budget}:${grantId}`;
  }

  private blockKey(grantId: string): string {
    return `${this.settings.prefix}:rl:block:${grantId}`;
  }
}

function intervalOf(rate: Rate): number {
  return Math.max(1, Math.ceil(1000 / rate.perSecond + (rate.marginMs ?? 0)));
}

function serialOf(rate: Rate): boolean {
  return rate.serial ?? (rate.burst ?? 1) <= 1;
}

/** Exponential back-off with jitter: random in [base / 2, min(cap, base * 2^attempt)]. */
export function backoffWithJitter(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}
