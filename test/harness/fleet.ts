import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface FleetOptions {
  /** Worker processes to run. */
  count: number;
  /** Environment of every worker (config variables). */
  env: Record<string, string>;
  /** Where each worker's output goes (one file per process start). */
  logDir: string;
  /** Entry point, relative to the project root. */
  entry?: string;
}

interface Member {
  child?: ChildProcess;
  log?: WriteStream;
  starts: number;
}

/**
 * Real worker processes (`jobs/worker.ts`), as on a worker dyno, for benchmarks and the
 * chaos suite: start them, SIGKILL one at any moment, restart it, stop them all.
 */
export class WorkerFleet {
  private readonly members: Member[];

  constructor(private readonly options: FleetOptions) {
    this.members = Array.from({ length: options.count }, () => ({ starts: 0 }));
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
    m.log = createWriteStream(join(this.options.logDir, `worker-${i}-${m.starts}.log`));
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, this.options.entry ?? "jobs/worker.ts")], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", LOG_LEVEL: "info", ...this.options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(m.log, { end: false });
    child.stderr?.pipe(m.log, { end: false });
    m.child = child;
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

  /** SIGTERM to all, SIGKILL to any still running after `graceMs`. */
  async stopAll(graceMs = 30_000): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const c = m.child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        // 'close', not 'exit': it comes after the child's stdout and stderr have ended, so
        // its last log lines are in the pipe before the log file is closed.
        const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
        c.kill("SIGTERM");
        const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
        await closed;
        clearTimeout(timer);
        const log = m.log;
        if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
      }),
    );
  }
}
