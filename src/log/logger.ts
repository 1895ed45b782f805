import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";
import { scrubText, scrubValue } from "./scrub.js";

export type { Logger };
export { scrubText };

export interface LoggerSettings {
  level?: string;
  pretty?: boolean;
  name?: string;
}

/**
 * pino with every line scrubbed (src/log/scrub.ts): the merged object of each line and the
 * bindings of each child are walked once, secret-named keys at any depth blanked, every
 * string (the message too) cleaned of credentials. Errors anywhere are shaped by the walk,
 * so pino's own `err` serializer must leave them alone.
 */
export function createLogger(settings: LoggerSettings = {}, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? "info",
    formatters: {
      log: (object) => scrubValue(object) as Record<string, unknown>,
      bindings: (bindings) => scrubValue(bindings) as Record<string, unknown>,
    },
    serializers: {
      err: (err: unknown) => err,
      msg: (msg: unknown) => (typeof msg === "string" ? scrubText(msg) : msg),
    },
  };
  if (destination) return scrubChildBindings(pino(options, destination));
  if (settings.pretty) {
    return scrubChildBindings(
      pino({
        ...options,
        transport: {
          target: "pino-pretty",
          options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" },
        },
      }),
    );
  }
  return scrubChildBindings(pino(options));
}

/**
 * pino applies `formatters.bindings` to the root's bindings only; children inherit this
 * `child` through their prototype, so grandchildren are covered too.
 */
function scrubChildBindings(logger: Logger): Logger {
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, scrubValue(bindings) as typeof bindings, options);
  } as Logger["child"];
  return logger;
}
