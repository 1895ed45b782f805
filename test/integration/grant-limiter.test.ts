import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { performance } from "node:perf_hooks";
import { createRedis } from "../../src/redis/connection.js";
import {
  backoffWithJitter,
  GrantBusy,
  GrantLimiter,
  type Budget,
  type LimiterSettings,
} from "../../src/nylas/grant-limiter.js";
import { uniqueId } from "../support/db.js";
import { monitorRedis } from "../support/redis-monitor.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Redis' clock in µs: the "provider's" clock in these tests. */
async function redisUs(conn: Redis): Promise<number> {
  const [s, us] = await conn.time();
  return Number(s) * 1_000_000 + Number(us);
}

/** Redis' clock in whole ms, floored as the limiter's scripts floor it. */
async function redisMs(conn: Redis): Promise<number> {
  return Math.floor((await redisUs(conn)) / 1000);
}

/**
 * `op` between two readings of Redis' clock, awaited one after the other: Redis ran it in
 * [before, after], however long this machine took to get there.
 */
async function timed<T>(conn: Redis, op: () => Promise<T>): Promise<{ before: number; value: T; after: number }> {
  const before = await redisMs(conn);
  const value = await op();
  return { before, value, after: await redisMs(conn) };
}

/**
 * A wait that must be what is left of a block set during `block`, asked during `asked`, by
 * Redis' clock: [earliest end - latest ask, latest end - earliest ask].
 */
type Span = { before: number; after: number };
function expectBlockLeft(wait: number, blockMs: number, block: Span, asked: Span) {
  expect(wait).toBeGreaterThanOrEqual(block.before + blockMs - asked.after);
  expect(wait).toBeLessThanOrEqual(block.after + blockMs - asked.before);
}

/** Blocks the event loop (a GC pause, a CPU-bound neighbour): the jitter the limiter must survive. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

/** Polls `take` until it succeeds; returns the waits it was given on the way. */
async function takeWhen(limiter: GrantLimiter, grantId: string, budget: Budget, provider?: string): Promise<number[]> {
  const waits: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const wait = await limiter.take(grantId, budget, provider);
    if (wait === 0) return waits;
    waits.push(wait);
    await sleep(wait);
  }
  throw new Error("take never succeeded");
}

interface Served {
  /** Redis µs at which the "provider" saw the request (a TIME on its own connection). */
  arrival: number;
  /** Redis µs at which the "provider" answered it (before the client settles). */
  response: number;
}

/**
 * Plays a client for `ms`: take (polling), optional jitter between token and wire, the
 * request (the provider connection's TIME is its arrival), latency, the response (TIME
 * again), then settle.
 */
async function serve(
  limiter: GrantLimiter,
  provider: Redis,
  grantId: string,
  budget: Budget,
  ms: number,
  opts: {
    providerName?: string;
    jitter?: () => Promise<void>;
    latencyMs?: () => number;
    onTaken?: () => void;
    onSettling?: () => void;
  } = {},
): Promise<Served[]> {
  const served: Served[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const wait = await limiter.take(grantId, budget, opts.providerName);
    if (wait > 0) {
      await sleep(Math.min(wait, Math.max(1, end - performance.now())));
      continue;
    }
    opts.onTaken?.();
    await opts.jitter?.();
    const arrival = await redisUs(provider);
    const latency = opts.latencyMs?.() ?? 0;
    if (latency > 0) await sleep(latency);
    const response = await redisUs(provider);
    served.push({ arrival, response });
    opts.onSettling?.();
    await limiter.settle(grantId, budget, opts.providerName);
  }
  return served;
}

/** Most events inside any half-open window of `windowUs`. */
function maxInWindow(times: number[], windowUs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowUs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Smallest gap between consecutive arrivals, in ms. */
function minArrivalGapMs(served: Served[]): number {
  const arrivals = served.map((s) => s.arrival).sort((a, b) => a - b);
  let min = Infinity;
  for (let i = 1; i < arrivals.length; i++) min = Math.min(min, arrivals[i]! - arrivals[i - 1]!);
  return min / 1000;
}

describe("GrantLimiter (GCRA in real Redis)", () => {
  let redis: Redis;
  let provider: Redis;
  let limiter: GrantLimiter;
  const prefix = uniqueId("rl");

  beforeAll(() => {
    redis = createRedis(REDIS_URL);
    provider = createRedis(REDIS_URL);
    limiter = new GrantLimiter(redis, {
      prefix,
      read: { perSecond: 20 },
      send: { perSecond: 4 },
      sendByProvider: { google: { perSecond: 2 } },
    });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await provider.quit();
  });

  it("spaces a grant's sends so no sliding second holds more than its budget, by arrival", async () => {
    const served = await serve(limiter, provider, "g-google", "send", 2500, { providerName: "google" });
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(served.length).toBeLessThanOrEqual(6);
    expect(minArrivalGapMs(served)).toBeGreaterThanOrEqual(500);
    expect(
      maxInWindow(
        served.map((s) => s.arrival),
        1_000_000,
      ),
    ).toBeLessThanOrEqual(2);
  });

  it("shares one budget between competing takers (as between worker processes)", async () => {
    const otherRedis = createRedis(REDIS_URL);
    const other = new GrantLimiter(otherRedis, { prefix, read: { perSecond: 20 }, send: { perSecond: 4 } });
    const [a, b] = await Promise.all([
      serve(limiter, provider, "g-shared", "send", 2000),
      serve(other, provider, "g-shared", "send", 2000),
    ]);
    await otherRedis.quit();
    const all = [...a, ...b];
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all.length).toBeLessThanOrEqual(9);
    expect(minArrivalGapMs(all)).toBeGreaterThanOrEqual(250);
    expect(
      maxInWindow(
        all.map((s) => s.arrival),
        1_000_000,
      ),
    ).toBeLessThanOrEqual(4);
  });

  it("adds the margin to the spacing", async () => {
    const settings = { prefix, read: { perSecond: 10, marginMs: 150 }, send: { perSecond: 1 } };
    // Serial (the default for burst 1): arrivals at least 100 + 150 ms apart.
    const served = await serve(new GrantLimiter(redis, settings), provider, "g-margin", "read", 1300);
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(served.length).toBeLessThanOrEqual(6);
    expect(minArrivalGapMs(served)).toBeGreaterThanOrEqual(250);
    // Not serial: the tokens themselves are 250 ms apart in Redis time. TIMEs queued on the
    // limiter's own connection just before and after each take bracket the script's clock.
    const tokens = new GrantLimiter(redis, { ...settings, read: { ...settings.read, serial: false } });
    const taken: { before: number; after: number }[] = [];
    const end = performance.now() + 1300;
    while (performance.now() < end) {
      const [before, wait, after] = await Promise.all([
        redisUs(redis),
        tokens.take("g-margin-tokens", "read"),
        redisUs(redis),
      ]);
      if (wait === 0) taken.push({ before, after });
      else await sleep(Math.min(wait, Math.max(1, end - performance.now())));
    }
    expect(taken.length).toBeGreaterThanOrEqual(2);
    expect(taken.length).toBeLessThanOrEqual(6);
    // Tokens are ms-floored: 250 ms apart in ms is more than 249 ms in µs.
    for (let i = 1; i < taken.length; i++)
      expect(taken[i]!.before - taken[i - 1]!.after).toBeGreaterThanOrEqual(249_000);
  });

  it("keeps grants and budgets apart", async () => {
    expect(await limiter.take("g-a", "send", "google")).toBe(0);
    expect(await limiter.take("g-a", "send", "google")).toBeGreaterThan(0);
    expect(await limiter.take("g-b", "send", "google")).toBe(0);
    expect(await limiter.take("g-a", "read")).toBe(0);
  });

  it("falls back to the general send budget for other providers", () => {
    expect(limiter.rateFor("send", "microsoft").perSecond).toBe(4);
    expect(limiter.rateFor("send", "google").perSecond).toBe(2);
    expect(limiter.rateFor("read", "google").perSecond).toBe(20);
  });

  it("blocks every request of one grant after a 429, and only that grant", async () => {
    // A block far longer than any stall of this machine, and every figure checked against
    // Redis' own clock: what is left of it, never "more than a second" of wall time.
    const BLOCK = 60_000;
    const block = await timed(redis, () => limiter.block("g-blocked", BLOCK));
    expect(block.value).toBe(BLOCK);
    const take = await timed(redis, () => limiter.take("g-blocked", "read"));
    expectBlockLeft(take.value, BLOCK, block, take); // the block, not the 50 ms read interval
    expect(await limiter.take("g-free", "read")).toBe(0);
    // A shorter block does not shorten a longer one.
    const shorter = await timed(redis, () => limiter.block("g-blocked", 10));
    expectBlockLeft(shorter.value, BLOCK, block, shorter);
  });
});

describe("GrantLimiter in flight (burst 1: one request of a grant in flight, the next an interval after its answer)", () => {
  let redis: Redis;
  let provider: Redis;
  const prefix = uniqueId("rlf");
  const make = (over: Partial<LimiterSettings> = {}, conn?: Redis) =>
    new GrantLimiter(conn ?? redis, {
      prefix,
      read: { perSecond: 20 },
      send: { perSecond: 2 },
      inFlightLeaseMs: 30_000,
      ...over,
    });

  beforeAll(() => {
    redis = createRedis(REDIS_URL);
    provider = createRedis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await provider.quit();
  });

  it("refuses a second take while one is in flight, with a short wait, and takes nothing", async () => {
    const limiter = make(); // sends: 500 ms interval, 30 s lease
    expect(await limiter.take("g1", "send")).toBe(0);
    await sleep(600); // past the interval: only the flight holds it back now
    for (let i = 0; i < 3; i++) {
      const wait = await limiter.take("g1", "send");
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(500); // a poll, never the 30 s lease
    }
    // Other grants and the same grant's other budget are not held.
    expect(await limiter.take("g2", "send")).toBe(0);
    expect(await limiter.take("g1", "read")).toBe(0);
    // The refused takes moved nothing: after the settle, one interval and no more.
    await limiter.settle("g1", "send");
    const wait = await limiter.take("g1", "send");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(501);
  });

  it("bounds the in-flight wait by the interval and by the lease left", async () => {
    const fast = make({ read: { perSecond: 10 } }); // 100 ms interval, 30 s lease
    expect(await fast.take("g-interval", "read")).toBe(0);
    await sleep(150);
    const byInterval = await fast.take("g-interval", "read");
    expect(byInterval).toBeGreaterThanOrEqual(1);
    expect(byInterval).toBeLessThanOrEqual(100);

    const leased = make({ read: { perSecond: 10 }, inFlightLeaseMs: 300 }); // 100 ms interval, 300 ms lease
    const t0 = performance.now();
    expect(await leased.take("g-lease-left", "read")).toBe(0);
    await sleep(220);
    const byLease = await leased.take("g-lease-left", "read");
    if (byLease === 0) {
      expect(performance.now() - t0).toBeGreaterThanOrEqual(299); // a slow machine slept past the lease
    } else {
      expect(byLease).toBeLessThanOrEqual(81); // what is left of the lease (300 - 220, +1 rounding)
    }
  });

  it("after settle, the next take waits one interval from the settle, not from the take", async () => {
    const limiter = make(); // 500 ms interval
    expect(await limiter.take("g3", "send")).toBe(0);
    await sleep(700); // the GCRA alone would allow the next token now
    const t0 = performance.now();
    await limiter.settle("g3", "send");
    const wait = await limiter.take("g3", "send");
    const elapsed = performance.now() - t0; // >= the Redis time between settle and take
    expect(wait).toBeGreaterThan(0);
    expect(wait + elapsed).toBeGreaterThanOrEqual(499); // settle + 500 ms (1 ms for clock slew)
    expect(wait).toBeLessThanOrEqual(501);
    await takeWhen(limiter, "g3", "send");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(499);
  });

  it("lets the flight of a request never settled lapse after its lease", async () => {
    const limiter = make({ read: { perSecond: 10 }, inFlightLeaseMs: 300 }); // 100 ms interval
    const t0 = performance.now();
    expect(await limiter.take("g4", "read")).toBe(0);
    const waits = await takeWhen(limiter, "g4", "read");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(299);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    for (const w of waits) expect(w).toBeLessThanOrEqual(100); // polled, not told to wait the lease out
    // The new take holds its own flight.
    expect(await limiter.take("g4", "read")).toBeGreaterThan(0);
    // Nothing lingers: every key the limiter wrote expires.
    await limiter.settle("g4", "read");
    const keys = (await redis.keys(`${prefix}:*`)).filter((k) => k.endsWith(":g4"));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it("keeps a 429 block ahead of the in-flight wait", async () => {
    const limiter = make(); // sends: 500 ms interval; the in-flight poll is at most that
    const BLOCK = 60_000; // by Redis' clock, as in "blocks every request" above
    expect(await limiter.take("g5", "send")).toBe(0);
    const block = await timed(redis, () => limiter.block("g5", BLOCK));
    const inFlight = await timed(redis, () => limiter.take("g5", "send"));
    expectBlockLeft(inFlight.value, BLOCK, block, inFlight); // the block, not the short poll
    await limiter.settle("g5", "send");
    const settled = await timed(redis, () => limiter.take("g5", "send"));
    expectBlockLeft(settled.value, BLOCK, block, settled); // the block, not the interval after the settle
    expect(await limiter.take("g5-other", "send")).toBe(0);
  });

  it("keeps plain GCRA for burst > 1 (and for serial: false): no flight, settle changes nothing", async () => {
    const bursty = make({ read: { perSecond: 5, burst: 3 } }); // 200 ms interval, 3 back to back
    for (let i = 0; i < 3; i++) expect(await bursty.take("g6", "read")).toBe(0);
    const wait = await bursty.take("g6", "read");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(201);
    await takeWhen(bursty, "g6", "read"); // no settle needed
    await bursty.settle("g6", "read"); // harmless

    const plain = make({ send: { perSecond: 2, serial: false } }); // 500 ms interval
    expect(await plain.take("g7", "send")).toBe(0);
    await sleep(600);
    expect(await plain.take("g7", "send")).toBe(0); // nothing in flight is tracked
    await sleep(600);
    await plain.settle("g7", "send");
    expect(await plain.take("g7", "send")).toBe(0); // settle did not push the schedule
  });

  it("racing clients on one grant: at most one in flight, each arrival at least an interval after the previous answer", async () => {
    const conns = Array.from({ length: 4 }, () => createRedis(REDIS_URL));
    const interval = 250;
    const limiters = conns.map((c) => make({ send: { perSecond: 4 } }, c));
    let inFlight = 0;
    let maxInFlight = 0;
    try {
      const results = await Promise.all(
        limiters.map((l) =>
          serve(l, provider, "g-race", "send", 3000, {
            onTaken: () => (maxInFlight = Math.max(maxInFlight, ++inFlight)),
            onSettling: () => inFlight--,
            // Between token and wire: sometimes the whole event loop stalls (every client
            // here shares it), sometimes only this request waits.
            jitter: async () => {
              const r = Math.random();
              if (r < 0.3) stall(Math.random() * 40);
              else if (r < 0.7) await sleep(Math.random() * 40);
            },
            latencyMs: () => 5 + Math.random() * 50,
          }),
        ),
      );
      const all = results.flat().sort((a, b) => a.arrival - b.arrival);
      expect(maxInFlight).toBe(1);
      expect(all.length).toBeGreaterThanOrEqual(2);
      expect(all.length).toBeLessThanOrEqual(13);
      // Redis time (the provider's clock): the next request arrives only after the previous
      // answer, and at least one interval after it, so arrivals are an interval apart too.
      for (let k = 1; k < all.length; k++) {
        expect(all[k]!.arrival - all[k - 1]!.response).toBeGreaterThanOrEqual(interval * 1000);
        expect(all[k]!.arrival - all[k - 1]!.arrival).toBeGreaterThanOrEqual(interval * 1000);
      }
      expect(
        maxInWindow(
          all.map((s) => s.arrival),
          1_000_000,
        ),
      ).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all(conns.map((c) => c.quit()));
    }
  });
});

describe("GrantLimiter.run: take, request, settle in one call", () => {
  let redis: Redis;
  const prefix = uniqueId("rlr");
  const make = (over: Partial<LimiterSettings> = {}) =>
    new GrantLimiter(redis, {
      prefix,
      read: { perSecond: 20 },
      send: { perSecond: 2 },
      inFlightLeaseMs: 30_000,
      ...over,
    });
  /** Settles are not awaited by `run`: poll until the grant's budget is free of flights. */
  async function flightCleared(budget: Budget, grantId: string): Promise<void> {
    for (let i = 0; i < 100 && (await redis.exists(`${prefix}:rl:flight:${budget}:${grantId}`)); i++) await sleep(5);
  }

  beforeAll(() => {
    redis = createRedis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it("settles after the request answered and after it failed: the next run waits one interval, not the lease", async () => {
    const limiter = make(); // sends: 500 ms interval, serial, 30 s lease
    const opts = { maxWaitMs: 1000 };
    expect(await limiter.run("g1", "send", async () => "answer", opts)).toBe("answer");
    await flightCleared("send", "g1");
    await expect(limiter.run("g1", "send", () => Promise.reject(new Error("refused")), opts)).rejects.toThrow(
      "refused",
    );
    await flightCleared("send", "g1");
    const t0 = performance.now();
    expect(await limiter.run("g1", "send", async () => 3, opts)).toBe(3);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  /** Runs `op` while counting the limiter's script calls that name `key` (MONITOR). */
  async function scriptCalls<T>(key: string, op: () => Promise<T>): Promise<{ value: T; calls: number }> {
    let calls = 0;
    const token = uniqueId("monitor-sync");
    let synced = false;
    const monitor = await monitorRedis(REDIS_URL, (args) => {
      const command = args[0]?.toLowerCase();
      // A script call of the client names its keys; the script's own commands come from "lua".
      if (command === "evalsha" && args.includes(key)) calls++;
      if (command === "echo" && args[1] === token) synced = true;
    });
    try {
      const value = await op();
      // Redis feeds the monitor in the order it runs commands: once it shows this ECHO, it
      // has shown every command that answered before it.
      await redis.echo(token);
      await expect.poll(() => synced).toBe(true);
      return { value, calls };
    } finally {
      monitor.close();
    }
  }

  /**
   * The k-th request to start did not start before the k-th token, k intervals after the
   * first take (which came after `before`): a late timer may delay a request, never advance
   * it. Times are Redis' floored milliseconds, so 1 ms of slack.
   */
  function expectNoneBeforeItsToken(arrivals: number[], before: number, intervalMs: number) {
    [...arrivals]
      .sort((a, b) => a - b)
      .forEach((at, k) => expect(at, `request ${k}`).toBeGreaterThanOrEqual(before + k * intervalMs - 1));
  }

  it("takes a non-serial budget's tokens asked together in one script, reserving those due soon; arrivals an interval apart", async () => {
    const limiter = make({ read: { perSecond: 20, serial: false } }); // 50 ms interval, inside the 100 ms horizon
    await limiter.run("g-loaded", "read", async () => undefined, { maxWaitMs: 0 }); // loads the script (a first call goes by EVAL)
    const before = await redisMs(redis);
    const { value: arrivals, calls } = await scriptCalls(`${prefix}:rl:read:g-reserve`, () =>
      // Redis' clock at each request's start: the "provider's" arrival times.
      Promise.all([0, 1, 2].map(() => limiter.run("g-reserve", "read", () => redisMs(redis), { maxWaitMs: 1000 }))),
    );
    expectNoneBeforeItsToken(arrivals, before, 50);
    expect(calls).toBe(1);
  });

  it("a gathered take beyond the horizon polls again on its own; every request still runs, an interval apart", async () => {
    const limiter = make({ read: { perSecond: 20, serial: false } });
    const before = await redisMs(redis);
    const { value: arrivals, calls } = await scriptCalls(`${prefix}:rl:read:g-horizon`, () =>
      Promise.all(
        [0, 1, 2, 3, 4].map(() => limiter.run("g-horizon", "read", () => redisMs(redis), { maxWaitMs: 1000 })),
      ),
    );
    expectNoneBeforeItsToken(arrivals, before, 50);
    // Tokens at +0, +50 and +100 ms are taken at once; +150 and +200 are asked for again.
    expect(calls).toBeGreaterThan(1);
  });

  it("a block refuses every take of a gathered script: each request throws GrantBusy, none runs", async () => {
    const limiter = make({ send: { perSecond: 10, serial: false } });
    expect(await limiter.block("g-gblock", 60_000)).toBeGreaterThan(59_000);
    let ran = 0;
    const outcomes = await Promise.all(
      [0, 1, 2].map(() =>
        limiter.run("g-gblock", "send", async () => ran++, { maxWaitMs: 1000 }).catch((e: unknown) => e),
      ),
    );
    for (const err of outcomes) {
      expect(err).toBeInstanceOf(GrantBusy);
      expect((err as GrantBusy).waitMs).toBeGreaterThan(59_000);
    }
    expect(ran).toBe(0);
    expect(await redis.exists(`${prefix}:rl:send:g-gblock`)).toBe(0);
  });

  it("sleeps through a short wait; a longer one throws GrantBusy before the request runs, taking nothing", async () => {
    const limiter = make();
    const budget = limiter.forGrant("g2", { provider: "google", maxWaitMs: 1000 });
    await budget.run("send", async () => undefined);
    const t0 = performance.now();
    await budget.run("send", async () => undefined); // the interval after the first one's settle, slept
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);

    expect(await budget.block(60_000)).toBeGreaterThan(59_000);
    let ran = false;
    const err = await budget.run("read", async () => (ran = true)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrantBusy);
    expect((err as GrantBusy).waitMs).toBeGreaterThan(1000);
    expect((err as GrantBusy).why).toBe("read budget of grant spent");
    expect(ran).toBe(false);
    expect(await redis.exists(`${prefix}:rl:flight:read:g2`)).toBe(0);
  });
});

describe("backoffWithJitter", () => {
  it("grows exponentially, stays within [base/2, cap], and jitters", () => {
    expect(backoffWithJitter(0, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffWithJitter(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffWithJitter(3, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffWithJitter(20, 1000, 60_000, () => 1)).toBe(60_000);
    const samples = new Set(Array.from({ length: 50 }, () => backoffWithJitter(4, 1000, 60_000)));
    expect(samples.size).toBeGreaterThan(10);
    for (const s of samples) expect(s).toBeGreaterThanOrEqual(500);
  });
});
