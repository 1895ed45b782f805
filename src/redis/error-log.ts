import type { Logger } from "../log/logger.js";
import { scrubText } from "../log/scrub.js";
import { Throttle } from "../log/throttle.js";

/** Anything that emits `error`: an ioredis connection, a BullMQ Queue, Worker or QueueEvents. */
export interface ErrorEmitter {
  on(event: "error", listener: (err: Error) => void): unknown;
}

/** How often the same error is logged again while it lasts. */
export const ERROR_LOG_WINDOW_MS = 60_000;

// One throttle per logger, shared by every connection, queue and worker of a process: they
// all see the same outage, and the log needs one line for it.
const throttles = new WeakMap<Logger, Throttle>();

/**
 * Sends `source`'s errors to the log: one warn line per distinct error, then at most one a
 * minute while it lasts (with `repeated`: how many were held back). Without a listener
 * BullMQ and ioredis print raw stacks to stderr.
 */
export function logErrors(emitter: ErrorEmitter, log: Logger, source: string): void {
  let throttle = throttles.get(log);
  if (!throttle) throttles.set(log, (throttle = new Throttle(ERROR_LOG_WINDOW_MS)));
  const t = throttle;
  emitter.on("error", (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | undefined)?.code;
    const held = t.pass(`${typeof code === "string" ? code : ""}|${message}`, Date.now());
    if (held === undefined) return;
    log.warn({ err, source, ...(held > 0 ? { repeated: held } : {}) }, `${source}: ${scrubText(message)}`);
  });
}
