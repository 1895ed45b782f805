import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { DEFAULT_API_KEY, type Counters, type LimitsInput, type RequestLogEntry } from "nylas-sandbox";
import { ROOT, cpuMsOfPid, peakRssOfPid } from "./proc.js";

export interface SandboxGrant {
  id: string;
  email: string;
  provider: string;
  zone: string;
}

/**
 * The sandbox running in a child process (bench/child/sandbox.ts), driven over its
 * /_sandbox/ control routes. Keeps its CPU off the processes being measured.
 */
export class SandboxProcess {
  readonly apiKey = DEFAULT_API_KEY;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(logCapacity = 1_000_000): Promise<SandboxProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/child/sandbox.ts")], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", SANDBOX_LOG_CAPACITY: String(logCapacity) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /READY (\S+)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`sandbox process exited with ${code}`)));
    });
    child.stdout!.resume();
    return new SandboxProcess(child, url);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  cpuMs(): number | undefined {
    return cpuMsOfPid(this.child.pid);
  }

  peakRssMb(): number | undefined {
    return peakRssOfPid(this.child.pid);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/_sandbox/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox ${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  async reset(): Promise<void> {
    await this.call("POST", "reset");
  }

  /** Every grant gets `meetingsPerGrant` qualifying meetings tomorrow (local), zones round-robin. */
  async seedBulk(grants: number, meetingsPerGrant: number, now: Date, provider = "google"): Promise<void> {
    await this.call("POST", "seed-bulk", { grants, meetingsPerGrant, now: now.toISOString(), provider });
  }

  async grants(): Promise<SandboxGrant[]> {
    const out: SandboxGrant[] = [];
    for (let offset = 0; ; offset += 10_000) {
      const page = await this.call<{ data: { id: string; email: string; provider: string; zone: string }[] }>(
        "GET",
        `grants?limit=10000&offset=${offset}`,
      );
      out.push(...page.data.map((g) => ({ id: g.id, email: g.email, provider: g.provider, zone: g.zone })));
      if (page.data.length < 10_000) return out;
    }
  }

  async setLatency(ms: number): Promise<void> {
    await this.call("POST", "latency", { ms, jitterMs: 0 });
  }

  async setLimits(limits: LimitsInput): Promise<void> {
    await this.call("POST", "limits", limits);
  }

  async counters(): Promise<Counters> {
    return this.call<Counters>("GET", "counters");
  }

  async clearLogs(): Promise<void> {
    await this.call("DELETE", "requests");
    await this.call("DELETE", "counters");
  }

  async requests(route: string): Promise<RequestLogEntry[]> {
    const out: RequestLogEntry[] = [];
    let since = 0;
    for (;;) {
      const page = await this.call<{ next_seq: number; data: RequestLogEntry[] }>(
        "GET",
        `requests?route=${route}&since_seq=${since}&limit=100000`,
      );
      out.push(...page.data);
      if (page.data.length < 100_000) return out;
      since = page.data[page.data.length - 1]!.seq + 1;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
}
