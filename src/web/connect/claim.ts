import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { redisWithin } from "../deadline.js";

/**
 * Marks a sign-in's state as used: true the first time, false for every replay of the same
 * callback. `SET NX` under the queue prefix, kept as long as the cookie could still open
 * (after that the cookie is refused as expired anyway). The key holds a hash of the state.
 * Throws when Redis does not answer in time: the caller refuses rather than risk a replay.
 */
export async function claimState(
  redis: Redis,
  prefix: string,
  state: string,
  ttlMs: number,
  timeoutMs = 3000,
): Promise<boolean> {
  const key = `${prefix}:connect-state:${createHash("sha256").update(state).digest("hex")}`;
  const set = await redisWithin(redis, timeoutMs, (r) => r.set(key, "used", "PX", Math.max(1, Math.ceil(ttlMs)), "NX"));
  return set === "OK";
}
