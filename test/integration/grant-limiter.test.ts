import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { createRedis } from "../../src/queue/redis.js";
import { backoffWithJitter, GrantLimiter } from "../../src/ratelimit/grant-limiter.js";
import { uniqueId } from "../helpers/db.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes tokens as fast as allowed for `ms`, returning the times they were granted. */
async function drain(limiter: GrantLimiter, grantId: string, budget: "read" | "send", ms: number, provider?: string): Promise<number[]> {
  const granted: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const wait = await limiter.take(grantId, budget, provider);
    if (wait === 0) granted.push(Date.now());
    else await sleep(Math.min(wait, end - Date.now()));
  }
  return granted;
}

/**
 * Most events inside any half-open window of `windowMs`. Times are taken in this process
 * after Redis answered, so they carry event-loop jitter; tests allow for it with a window
 * a little shorter than a second (without shared spacing the counts would double).
 */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe("GrantLimiter (GCRA in real Redis)", () => {
  let redis: Redis;
  let limiter: GrantLimiter;
  const prefix = uniqueId("rl");

  beforeAll(() => {
    redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    limiter = new GrantLimiter(redis, { prefix, read: { perSecond: 20 }, send: { perSecond: 4 }, sendByProvider: { google: { perSecond: 2 } } });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it("spaces a grant's sends so no sliding second holds more than its budget", async () => {
    const times = await drain(limiter, "g-google", "send", 3000, "google");
    expect(times.length).toBeGreaterThanOrEqual(5);
    expect(times.length).toBeLessThanOrEqual(7);
    expect(maxInWindow(times, 950)).toBeLessThanOrEqual(2);
  });

  it("shares one budget between competing takers (as between worker processes)", async () => {
    const otherRedis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const other = new GrantLimiter(otherRedis, { prefix, read: { perSecond: 20 }, send: { perSecond: 4 } });
    const [a, b] = await Promise.all([drain(limiter, "g-shared", "send", 2000), drain(other, "g-shared", "send", 2000)]);
    await otherRedis.quit();
    const all = [...a, ...b].sort((x, y) => x - y);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(maxInWindow(all, 950)).toBeLessThanOrEqual(4);
    expect(all.length).toBeLessThanOrEqual(9);
  });

  it("adds the margin to the spacing", async () => {
    const spaced = new GrantLimiter(redis, { prefix, read: { perSecond: 10, marginMs: 150 }, send: { perSecond: 1 } });
    const times = await drain(spaced, "g-margin", "read", 1300);
    expect(times.length).toBe(6);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(200);
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
    const left = await limiter.block("g-blocked", 1500);
    expect(left).toBeGreaterThan(1400);
    const wait = await limiter.take("g-blocked", "read");
    expect(wait).toBeGreaterThan(1000);
    expect(await limiter.take("g-free", "read")).toBe(0);
    // A shorter block does not shorten a longer one.
    expect(await limiter.block("g-blocked", 10)).toBeGreaterThan(1000);
  });
});

describe("GrantLimiter serial budgets (one request in flight, spaced from its answer)", () => {
  let redis: Redis;
  const prefix = uniqueId("rls");
  const serial = (leaseMs = 10_000) => new GrantLimiter(redis, { prefix, read: { perSecond: 20 }, send: { perSecond: 4, serial: true }, inFlightLeaseMs: leaseMs });
  const redisNow = async () => {
    const [s, us] = await redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };

  beforeAll(() => {
    redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it("refuses a second token while one is in flight, with a short poll, however long the flight", async () => {
    const limiter = serial();
    expect(await limiter.take("g1", "send")).toBe(0);
    await sleep(400); // far past the 250 ms interval: only the flight holds it back
    const wait = await limiter.take("g1", "send");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(50); // interval / 5: a poll, not the lease
    // Other grants and the (non-serial) read budget are not held.
    expect(await limiter.take("g2", "send")).toBe(0);
    expect(await limiter.take("g1", "read")).toBe(0);
  });

  it("starts the next interval at the answer: no token sooner than one interval after settle", async () => {
    const limiter = serial();
    expect(await limiter.take("g3", "send")).toBe(0);
    await sleep(300);
    const settledAt = await redisNow(); // read before settle: settle's own clock is no earlier
    await limiter.settle("g3", "send");
    const wait = await limiter.take("g3", "send");
    expect(wait).toBeGreaterThan(200); // ~250 ms from the answer, though the token is 300 ms old
    await sleep(wait);
    let w = await limiter.take("g3", "send");
    while (w > 0) {
      await sleep(w);
      w = await limiter.take("g3", "send");
    }
    expect((await redisNow()) - settledAt).toBeGreaterThanOrEqual(250);
  });

  it("lets an unsettled flight lapse after the lease (a process died mid-request)", async () => {
    const limiter = serial(300);
    expect(await limiter.take("g4", "send")).toBe(0);
    expect(await limiter.take("g4", "send")).toBeGreaterThan(0);
    await sleep(350);
    expect(await limiter.take("g4", "send")).toBe(0);
  });

  it("keeps a 429 block ahead of everything, and settle is free for non-serial budgets", async () => {
    const limiter = serial();
    await limiter.block("g5", 1000);
    expect(await limiter.take("g5", "send")).toBeGreaterThan(500);
    expect(await redis.exists(`${prefix}:rl:flight:send:g5`)).toBe(0);
    expect(await limiter.take("g6", "read")).toBe(0);
    await limiter.settle("g6", "read");
    expect(await redis.exists(`${prefix}:rl:flight:read:g6`)).toBe(0);
  });

  it("holds across competing processes: one in flight, and every take one interval after the last answer", async () => {
    const others = [createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"), createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")];
    const limiters = [serial(), ...others.map((r) => new GrantLimiter(r, { prefix, read: { perSecond: 20 }, send: { perSecond: 4, serial: true }, inFlightLeaseMs: 10_000 }))];
    const events: { at: number; kind: "take" | "settle" }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const end = Date.now() + 1800;
    await Promise.all(
      limiters.map(async (l) => {
        while (Date.now() < end) {
          const wait = await l.take("g-race", "send");
          if (wait > 0) {
            await sleep(wait);
            continue;
          }
          events.push({ at: await redisNow(), kind: "take" });
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await sleep(20 + Math.random() * 60); // the request's latency
          inFlight--;
          events.push({ at: await redisNow(), kind: "settle" });
          await l.settle("g-race", "send");
        }
      }),
    );
    await Promise.all(others.map((r) => r.quit()));
    expect(maxInFlight).toBe(1);
    const takes = events.filter((e) => e.kind === "take");
    expect(takes.length).toBeGreaterThanOrEqual(3);
    // Each take comes at least one interval (250 ms) after the previous answer was recorded.
    for (let i = 1; i < events.length; i++) {
      if (events[i]!.kind === "take" && events[i - 1]!.kind === "settle") expect(events[i]!.at - events[i - 1]!.at).toBeGreaterThanOrEqual(249);
    }
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
