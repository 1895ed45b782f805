import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";

export interface PrivateRedisOptions {
  port: number;
  /** Directory for its log file (it keeps no data on disk). */
  dir: string;
}

/**
 * A Redis server of our own (not the shared one on 6379), run in the foreground as a child
 * process with persistence off, so that `restart()` really is "Redis came back empty" and
 * nobody else's queues are disturbed.
 */
export class PrivateRedis {
  private child?: ChildProcess;
  restarts = 0;

  constructor(private readonly options: PrivateRedisOptions) {
    mkdirSync(options.dir, { recursive: true });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = spawn(
      "redis-server",
      [
        "--bind",
        "127.0.0.1",
        "--port",
        String(this.options.port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.options.dir,
        "--logfile",
        `${this.options.dir}/redis-${this.options.port}.log`,
      ],
      { stdio: "ignore" },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => resolve());
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on port ${this.options.port} exited with ${child.exitCode} (port in use?)`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.options.port} did not come up`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SIGKILL: everything in memory is gone. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGKILL");
    await exited;
  }

  /** Kill, stay down for `downMs`, start empty. */
  async restart(downMs = 1000): Promise<void> {
    await this.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start();
    this.restarts++;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
