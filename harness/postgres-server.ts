import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

export interface PrivatePostgresOptions {
  port: number;
  /** Directory for the cluster (created with initdb on first start). */
  dir: string;
  maxConnections?: number;
}

/**
 * A Postgres cluster of our own (initdb + postgres in the foreground), so a chaos run can open
 * hundreds of connections without exhausting the shared server's max_connections, which the
 * other test suites and benchmarks need. Durability is off: it is throw-away test data.
 * As root, the server runs as the `postgres` user (it refuses to run as root).
 */
export class PrivatePostgres {
  constructor(private readonly options: PrivatePostgresOptions) {}

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.options.port}/postgres`;
  }

  private bin(name: string): string {
    const base = "/usr/lib/postgresql";
    if (existsSync(base)) {
      const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
      for (const v of versions) if (existsSync(join(base, v, "bin", name))) return join(base, v, "bin", name);
    }
    return name;
  }

  private asOwner(cmd: string, args: string[]): [string, string[]] {
    return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  }

  async start(): Promise<void> {
    const data = join(this.options.dir, "data");
    if (!existsSync(join(data, "PG_VERSION"))) {
      mkdirSync(data, { recursive: true });
      if (process.getuid?.() === 0) {
        const pw = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
        const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
        chownSync(this.options.dir, Number(pw.stdout), Number(gid.stdout));
        chownSync(data, Number(pw.stdout), Number(gid.stdout));
      }
      const [cmd, args] = this.asOwner(this.bin("initdb"), [
        "-D",
        data,
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
      ]);
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      if (r.status !== 0)
        throw new Error(`initdb failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").pop()}`);
    }
    // A server left over by an interrupted run on this directory is stopped first.
    this.pgctl(["-D", data, "-m", "immediate", "-w", "stop"]);
    const opts = [
      `-p ${this.options.port}`,
      `-k ${this.options.dir}`,
      "-c listen_addresses=127.0.0.1",
      `-c max_connections=${this.options.maxConnections ?? 400}`,
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c shared_buffers=128MB",
    ].join(" ");
    const r = this.pgctl([
      "-D",
      data,
      "-o",
      opts,
      "-l",
      join(this.options.dir, "postgres.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
    if (r.status !== 0)
      throw new Error(
        `postgres on port ${this.options.port} did not start: ${(r.stderr || r.stdout).trim().split("\n").pop()} (see ${join(this.options.dir, "postgres.log")})`,
      );
    this.data = data;
    const c = new pg.Client({ connectionString: this.url });
    await c.connect();
    await c.end();
  }

  private data?: string;

  private pgctl(args: string[]) {
    const [cmd, a] = this.asOwner(this.bin("pg_ctl"), args);
    return spawnSync(cmd, a, { encoding: "utf8" });
  }

  /** Immediate shutdown. */
  async stop(): Promise<void> {
    if (this.data) this.pgctl(["-D", this.data, "-m", "immediate", "-w", "stop"]);
    this.data = undefined;
  }
}
