import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger, type Logger } from "./log/logger.js";
import { startClock } from "./time/clock.js";

export interface Running {
  /** Stops the process' work; may name the exit code (default 0: a clean stop). */
  close(): Promise<number | void>;
}

/**
 * The shell every entry point shares: parse the environment once, build the logger, start,
 * and on SIGTERM/SIGINT stop cleanly (Heroku allows 30 s before SIGKILL). A configuration
 * error is one line on stderr and exit code 2; nothing else is printed.
 */
export async function runProcess(
  name: string,
  start: (config: Config, log: Logger) => Promise<Running>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    // The calendar clock: the real one, or CLOCK_START in tests (see src/time/clock.ts).
    startClock(config.CLOCK_START);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({
    name,
    level: config.LOG_LEVEL,
    pretty: config.NODE_ENV === "development" && process.stdout.isTTY,
  });

  let running: Running;
  try {
    running = await start(config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err }, `${name} could not start`);
    await flush(log);
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    try {
      const code = await running.close();
      log.info(`${name} stopped`);
      await flush(log);
      process.exit(code ?? 0);
    } catch (err) {
      log.error({ err }, `${name} did not stop cleanly`);
      await flush(log);
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
}

function flush(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}

/**
 * A command's arguments, read once at start: `--help` prints the usage and exits 0; a usage
 * error is one line on stderr and `usageExit`; anything else is a bug and is thrown.
 */
export function readCommandArgs<A>(
  name: string,
  parse: (argv: string[]) => A | "help",
  cli: { usage: string; usageExit: number; UsageError: new (...args: never[]) => Error },
): A {
  try {
    const parsed = parse(process.argv.slice(2));
    if (parsed === "help") {
      process.stdout.write(`${cli.usage}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (err) {
    if (err instanceof cli.UsageError) {
      process.stderr.write(`${name}: ${err.message} (see --help)\n`);
      process.exit(cli.usageExit);
    }
    throw err;
  }
}
