import { z } from "zod";
import { isSupportedLocale } from "./reminders/catalogue.js";
import { REMINDER_POLICIES } from "./reminders/policy.js";
import { parseInstant } from "./time/clock.js";

/**
 * Every setting comes from the environment and is parsed once, at start-up. A bad value
 * stops the process with one line naming the variable and what it expects; the value itself
 * is never echoed, because it may be a secret.
 */

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, "a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const num = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, "a number")
    .transform(Number)
    .pipe(z.number().min(min).max(max));

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    },
    `a URL (${protocols.join(" or ")})`,
  );

const zone = z.string().refine(isIanaZone, "an IANA time zone such as Europe/Berlin");

export function isIanaZone(name: string): boolean {
  // Node 22+ also accepts UTC offsets ("+05:30") as zones; only IANA names are meant here.
  if (!name || name.length > 64 || /^\s*[-+\u2212]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * Jobs one worker process runs at once, by default: enough that a 512 MB worker dyno keeps
 * its CPU busy while its jobs wait on Nylas (BENCHMARKS.md, the latency runs).
 */
export const DEFAULT_WORKER_CONCURRENCY = 200;

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Postgres connection string. Unset only in the demo, which then uses embedded PGlite. */
  DATABASE_URL: url(["postgres", "postgresql"]).optional(),
  /**
   * TLS to Postgres: `disable` (as the URL says), `no-verify` (encrypted, certificate not
   * checked: Heroku Postgres), `verify` (encrypted and checked).
   */
  DATABASE_SSL: z.enum(["disable", "no-verify", "verify"]).default("disable"),
  REDIS_URL: url(["redis", "rediss"]).default("redis://127.0.0.1:6379"),
  /** Check the certificate of a `rediss://` Redis (Heroku Redis uses self-signed ones: false). */
  REDIS_TLS_VERIFY: bool.default(true),
  /** Prefix of every BullMQ key, so several deployments can share one Redis. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, "letters, digits, - or _ (1-40)")
    .default("nr"),

  NYLAS_API_KEY: z.string().min(1, "the Nylas API key (secret)"),
  NYLAS_API_URI: url(["http", "https"]).default("https://api.us.nylas.com"),
  NYLAS_TIMEOUT_S: int(1, 300).default(30),
  /**
   * While Nylas refuses the API key (the runs queue paused), how often each worker checks
   * whether it works again (ms; `GET /v3/grants?limit=1`).
   */
  NYLAS_KEY_CHECK_EVERY_MS: int(1000, 3_600_000).default(30_000),
  NYLAS_CLIENT_ID: z.string().min(1).optional(),
  NYLAS_WEBHOOK_SECRET: z.string().min(1).optional(),
  /**
   * How long a re-run waits after a meeting changed (event.* webhook), so a burst of changes
   * gives one re-run (ms; BullMQ deduplication per grant and day). Also the second sweep's delay.
   */
  RERUN_DEBOUNCE_MS: int(1000, 3_600_000).default(60_000),
  /** A re-run sends a short notice for a reminded meeting that was cancelled since. */
  CANCEL_NOTICES: bool.default(true),
  /**
   * Without webhooks (NYLAS_WEBHOOK_SECRET unset), the scheduler re-runs each completed day
   * once, this many hours before it begins in the grant's zone (the second sweep); 0: never.
   */
  SWEEP_HOURS_BEFORE: int(0, 23).default(3),

  DEFAULT_TIME_ZONE: zone.default("UTC"),
  DEFAULT_SEND_HOUR: int(0, 23).default(18),
  INCLUDE_ALL_DAY: bool.default(false),
  /**
   * BCP 47 locale of the reminders of grants without their own (grants.locale): words from
   * src/reminders/catalogue.ts (en, fr, de; "fr-CA" reads as fr), dates by Intl in the full tag.
   */
  DEFAULT_LOCALE: z
    .string()
    .refine(isSupportedLocale, "a BCP 47 locale the reminders are written in (en, fr, de, or a region of one)")
    .default("en"),
  /**
   * Bearer token of the admin JSON API (/admin/api/…), at least 32 characters; unset: the API
   * takes the operators' basic auth (BULL_BOARD_USER/PASSWORD) only. See README "Per-user settings".
   */
  ADMIN_API_TOKEN: z.string().min(32, "at least 32 characters").optional(),
  /**
   * Which meetings get a reminder: `organized` (the user organises them), `all`, or `external`
   * (organised by the user, with a guest outside the user's email domain). A grant's own
   * `grants.policy` overrides it. See src/reminders/policy.ts.
   */
  REMINDER_POLICY: z.enum(REMINDER_POLICIES).default("organized"),
  /** Meetings with more recipients than this get no reminder (too_many_recipients). */
  MAX_RECIPIENTS: int(1, 500).default(25),
  /**
   * No reminder goes out later than this many minutes before its meeting starts, whatever the
   * path (a delayed job, a retry, a backfill of a past day): skipped as `started`.
   */
  MIN_LEAD_MINUTES: int(0, 1440).default(15),
  /**
   * `shared`: one reminder per meeting, to all its recipients (a meeting with a hidden guest
   * list still gets one per recipient); `individual`: one per recipient, always.
   */
  REMINDER_DELIVERY: z.enum(["shared", "individual"]).default("shared"),
  /**
   * Test-only: the process's calendar clock (which day is tomorrow, is the send hour past)
   * starts at this instant and runs on at real speed; unset = the real clock. Refused with
   * NODE_ENV=production. See src/time/clock.ts.
   */
  CLOCK_START: z
    .string()
    .refine((v) => parseInstant(v) !== undefined, "an ISO 8601 instant with Z or an offset, e.g. 2026-03-07T20:00:00Z")
    .optional(),

  WORKER_CONCURRENCY: int(1, 1000).default(DEFAULT_WORKER_CONCURRENCY),
  /** Concurrent Nylas calls inside one job (p-limit). */
  JOB_CONCURRENCY: int(1, 50).default(4),
  SCHEDULER_EVERY_MS: int(1000, 86_400_000).default(300_000),
  SCHEDULER_PAGE_SIZE: int(10, 10_000).default(1000),
  JOB_ATTEMPTS: int(1, 100).default(8),
  /**
   * On SIGTERM, how long the worker lets its active jobs finish before it exits anyway (ms);
   * a job cut off then stalls and another worker finishes it. Heroku kills at 30 s.
   */
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(25_000),

  RATE_READS_PER_SEC: num(0.1, 10_000).default(20),
  RATE_SENDS_PER_SEC: num(0.1, 10_000).default(3),
  RATE_SENDS_PER_SEC_GOOGLE: num(0.1, 10_000).default(2),
  RATE_SENDS_PER_SEC_MICROSOFT: num(0.1, 10_000).default(3),
  /** Extra spacing between two sends of one grant (ms); serial sends need none. */
  RATE_SEND_MARGIN_MS: int(0, 10_000).default(0),
  /** One send in flight per grant, the next one interval after its answer (see GrantLimiter). */
  RATE_SEND_SERIAL: bool.default(true),

  PORT: int(1, 65_535).default(3000),
  PUBLIC_URL: url(["http", "https"]).optional(),
  BULL_BOARD_USER: z.string().min(1).optional(),
  BULL_BOARD_PASSWORD: z.string().min(8, "at least 8 characters").optional(),
  SESSION_SECRET: z.string().min(16, "at least 16 characters").optional(),
  /**
   * Signs the unsubscribe links of reminders (HMAC-SHA256); needs PUBLIC_URL. Unset: reminders
   * carry no unsubscribe link or headers. Changing it breaks the links already sent.
   */
  UNSUBSCRIBE_SECRET: z.string().min(16, "at least 16 characters").optional(),
});

export type Config = z.infer<typeof schema>;

/** Names of the variables whose values must never be printed. */
export const SECRET_VARS = [
  "NYLAS_API_KEY",
  "NYLAS_WEBHOOK_SECRET",
  "BULL_BOARD_PASSWORD",
  "SESSION_SECRET",
  "UNSUBSCRIBE_SECRET",
  "ADMIN_API_TOKEN",
  "DATABASE_URL",
  "REDIS_URL",
] as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment. Empty strings count as unset, as they do on most platforms'
 * config screens. Throws ConfigError whose message is one line naming every bad variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") input[key] = value.trim();
  }
  const parsed = schema.safeParse(input);
  if (parsed.success && parsed.data.NODE_ENV === "production" && parsed.data.CLOCK_START !== undefined) {
    throw new ConfigError("Invalid configuration: CLOCK_START is test-only and must be unset when NODE_ENV=production");
  }
  if (parsed.success) {
    const insecure = cleartextInProduction(parsed.data);
    if (insecure.length > 0) throw new ConfigError(`Invalid configuration: ${insecure.join("; ")}`);
    return { ...parsed.data, DATABASE_URL: withSslMode(parsed.data.DATABASE_URL, parsed.data.DATABASE_SSL) };
  }
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    const expected =
      issue.code === "invalid_type" && input[name] === undefined ? "is required" : `must be ${describe(issue)}`;
    return `${name} ${expected}`;
  });
  throw new ConfigError(`Invalid configuration: ${[...new Set(problems)].join("; ")}`);
}

/**
 * In production the API key, the OAuth client secret and users' codes travel to
 * NYLAS_API_URI, and the state cookie is `Secure` only on an https PUBLIC_URL: both must be
 * https. Loopback addresses are the exception: that traffic never leaves the machine.
 */
export function cleartextInProduction(config: Pick<Config, "NODE_ENV" | "NYLAS_API_URI" | "PUBLIC_URL">): string[] {
  if (config.NODE_ENV !== "production") return [];
  const names = ["NYLAS_API_URI", "PUBLIC_URL"] as const;
  return names
    .filter((name) => {
      const value = config[name];
      if (value === undefined) return false;
      const url = new URL(value);
      return url.protocol !== "https:" && !isLoopback(url.hostname);
    })
    .map((name) => `${name} must be an https:// URL when NODE_ENV=production`);
}

function isLoopback(host: string): boolean {
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_value") return `one of ${issue.values.map(String).join(", ")}`;
  if (issue.code === "too_small" || issue.code === "too_big") {
    const bound = issue.code === "too_small" ? `>= ${String(issue.minimum)}` : `<= ${String(issue.maximum)}`;
    return issue.origin === "string"
      ? issue.message.replace(/^Too (small|big): expected string to have /, "")
      : `a number ${bound}`;
  }
  // Custom messages (refine, regex) already say what is expected.
  return issue.message.startsWith("Invalid") ? "well-formed" : issue.message;
}

/**
 * Carries DATABASE_SSL into the URL as `sslmode`, which node-postgres reads, so every
 * consumer (the Prisma adapter, the migrator) connects the same way. A URL that already
 * names an sslmode keeps it.
 */
export function withSslMode(databaseUrl: string | undefined, mode: Config["DATABASE_SSL"]): string | undefined {
  if (!databaseUrl || mode === "disable") return databaseUrl;
  const u = new URL(databaseUrl);
  if (!u.searchParams.has("sslmode")) u.searchParams.set("sslmode", mode === "verify" ? "verify-full" : "no-verify");
  return u.toString();
}

/** ioredis options for a `rediss://` URL whose certificate is not to be checked. */
export function redisTls(config: Pick<Config, "REDIS_URL" | "REDIS_TLS_VERIFY">): {
  tls?: { rejectUnauthorized: boolean };
} {
  return config.REDIS_URL.startsWith("rediss:") && !config.REDIS_TLS_VERIFY
    ? { tls: { rejectUnauthorized: false } }
    : {};
}

/** Requirements that only some processes have; checked by the process that needs them. */
export function requireSettings<K extends keyof Config>(
  config: Config,
  keys: K[],
  why: string,
): asserts config is Config & Required<Pick<Config, K>> {
  const missing = keys.filter((k) => config[k] === undefined);
  if (missing.length > 0)
    throw new ConfigError(
      `Invalid configuration: ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} required ${why}`,
    );
}
