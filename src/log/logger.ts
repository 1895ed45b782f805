import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";

export type { Logger };

/**
 * Paths pino blanks before a line is written. Secrets can reach a log line through an
 * error's request config, a header bag, or a config object; each shape is covered.
 */
export const REDACT_PATHS = [
  "apiKey",
  "*.apiKey",
  "api_key",
  "*.api_key",
  "authorization",
  "Authorization",
  "*.authorization",
  "*.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "headers.authorization",
  "headers.Authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers[\"x-nylas-signature\"]",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "access_token",
  "*.access_token",
  "refresh_token",
  "*.refresh_token",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "webhookSecret",
  "*.webhookSecret",
  "NYLAS_API_KEY",
  "*.NYLAS_API_KEY",
  "NYLAS_WEBHOOK_SECRET",
  "*.NYLAS_WEBHOOK_SECRET",
  "BULL_BOARD_PASSWORD",
  "*.BULL_BOARD_PASSWORD",
  "SESSION_SECRET",
  "*.SESSION_SECRET",
  "DATABASE_URL",
  "*.DATABASE_URL",
  "REDIS_URL",
  "*.REDIS_URL",
];

const BEARER = /Bearer\s+[A-Za-z0-9._~+/=-]+/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s/]+@/gi;

/** Blanks bearer tokens and URL passwords inside free text (error messages, stacks). */
export function scrubText(text: string): string {
  return text.replace(BEARER, "Bearer [Redacted]").replace(URL_PASSWORD, "$1[Redacted]@");
}

export interface LoggerSettings {
  level?: string;
  pretty?: boolean;
  name?: string;
}

export function createLogger(settings: LoggerSettings = {}, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[Redacted]" },
    serializers: {
      err: (err: unknown) => {
        const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
        for (const key of ["message", "stack"]) {
          if (typeof serialized[key] === "string") serialized[key] = scrubText(serialized[key] as string);
        }
        // SDK errors may carry the request (with its headers); keep only what helps.
        delete serialized.config;
        delete serialized.request;
        delete serialized.headers;
        return serialized;
      },
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === "string" ? scrubText(a) : a)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
  };
  if (destination) return pino(options, destination);
  if (settings.pretty) {
    return pino({ ...options, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } });
  }
  return pino(options);
}
