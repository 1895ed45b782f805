import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface FleetOptions {
  /** Worker processes to run. */
  count: number;
  /** Environment of every worker (config variables). */
  env: Record<string, string>;
  /** Where each worker's output goes (one file per process start). */
  logDir: string;
  /** Entry point, relative to the project root. */
  entry?: string;
  /** Node flags before the entry (e.g. the Procfile's heap flag). */
  nodeFlags?: string[];
}

/** How a worker process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Member {
  child?: ChildProcess;
  log?: WriteStream;
  starts: number;
  /** Settles when the current process has closed and its log file is flushed. */
  exited?: Promise<ExitStatus>;
  /** How each start of this member ended, in order. */
  exits: ExitStatus[];
}

/**
 * Real worker processes (`jobs/worker.ts`), as on a worker dyno, for benchmarks and the
 * chaos suite: start them, SIGKILL one at any moment, restart it, SIGTERM one or all and
 * read how each process ended (exit code or signal).
 */
export class WorkerFleet {
  private readonly members: Member[];

  constructor(private readonly options: FleetOptions) {
    this.members = Array.from({ length: options.count }, () => ({ starts: 0, exits: [] }));
    mkdirSync(options.logDir, { recursive: true });
  }

  get size(): number {
    return this.members.length;
  }

  startAll(): void {
    for (let i = 0; i < this.members.length; i++) this.start(i);
  }

  start(i: number): void {
    const m = this.members[i]!;
    if (m.child && m.child.exitCode === null && m.child.signalCode === null) return;
    m.starts++;
    const log = createWriteStream(join(this.options.logDir, `worker-${i}-${m.starts}.log`));
    m.log = log;
    const child = spawn(
      process.execPath,
      [...(this.options.nodeFlags ?? []), "--import", "tsx", join(ROOT, this.options.entry ?? "jobs/worker.ts")],
      {
        cwd: ROOT,
        // No second sweep unless asked: a tick that reaches a grant's sweep hour while a test or
        // a benchmark runs would add a re-run its caller did not plan (src/runs/sweep.ts).
        env: {
          PATH: process.env.PATH ?? "",
          NODE_ENV: "production",
          LOG_LEVEL: "info",
          SWEEP_HOURS_BEFORE: "0",
          ...this.options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    m.child = child;
    // 'close', not 'exit': it comes after the child's stdout and stderr have ended, so its
    // last log lines are in the file before the exit is reported.
    m.exited = new Promise<ExitStatus>((resolve) => {
      child.once("close", (code, signal) => {
        const status = { code, signal };
        m.exits.push(status);
        log.end(() => resolve(status));
      });
    });
  }

  /** SIGKILL: no shutdown hook runs, active jobs are cut off mid-flight. */
  kill(i: number): void {
    this.members[i]?.child?.kill("SIGKILL");
  }

  alive(i: number): boolean {
    const c = this.members[i]?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  pid(i: number): number | undefined {
    return this.members[i]?.child?.pid;
  }

  /** Sends a signal to member i's process (if it runs). */
  signal(i: number, signal: NodeJS.Signals): void {
    if (this.alive(i)) this.members[i]!.child!.kill(signal);
  }

  /**
   * How member i's current (or last) process ended, once it has; its log file is complete
   * by then. Undefined if it was never started.
   */
  exited(i: number): Promise<ExitStatus> | undefined {
    return this.members[i]?.exited;
  }

  /** How each start of member i ended, in order (a process still running is not listed). */
  exits(i: number): ExitStatus[] {
    return [...(this.members[i]?.exits ?? [])];
  }

  /**
   * SIGTERM to member i, SIGKILL if it is still running after `graceMs`. Resolves, once its
   * log file is complete, with how it ended (signal "SIGKILL" when it had to be killed; the
   * earlier ending if it was no longer running), or undefined if it was never started.
   */
  async stop(i: number, graceMs = 30_000): Promise<ExitStatus | undefined> {
    const m = this.members[i];
    if (!m?.child || !m.exited) return undefined;
    if (!this.alive(i)) return m.exited;
    const c = m.child;
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
    try {
      return await m.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to all, SIGKILL to any still running after `graceMs`; how each one ended. */
  async stopAll(graceMs = 30_000): Promise<(ExitStatus | undefined)[]> {
    return Promise.all(this.members.map((_, i) => this.stop(i, graceMs)));
  }
}
