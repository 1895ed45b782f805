import type { Redis } from "ioredis";

/** A wait that ran out: told apart from a dependency's own error. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** `p`, or a DeadlineError naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the connection is ready; rejects on its next error or when it gave up. */
function ready(redis: Redis): { promise: Promise<void>; stop(): void } {
  let stop = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    const onReady = () => (stop(), resolve());
    const onError = (err: Error) => (stop(), reject(err));
    const onEnd = () => (stop(), reject(new Error("Redis connection closed")));
    stop = () => {
      redis.off("ready", onReady).off("error", onError).off("end", onEnd);
    };
    redis.once("ready", onReady).once("error", onError).once("end", onEnd);
  });
  return { promise, stop };
}

/**
 * Runs `command` on a connection without an offline queue once it is ready: one still
 * (re)connecting gets until the deadline, so a start-up race is not an outage.
 */
export async function redisWithin<T>(redis: Redis, ms: number, command: (r: Redis) => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  if (redis.status === "end") throw new Error("Redis connection closed");
  if (redis.status !== "ready") {
    const waiting = ready(redis);
    if (redis.status === "wait") redis.connect().catch(() => {}); // lazy: the error comes as an event
    try {
      await within(waiting.promise, ms, "Redis");
    } finally {
      waiting.stop();
    }
  }
  return within(command(redis), Math.max(1, deadline - Date.now()), "Redis");
}
