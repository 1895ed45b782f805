import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { addDays, localDate } from "nylas-sandbox";
import { testDatabaseUrl, uniqueId } from "../support/db.js";

// CLOCK_START, the test-only calendar clock, as the processes take it from the environment.
const CLOCK = "2026-03-07T20:00:00Z";
// The sandbox's CLI, found through its package (what `npm run sandbox` runs).
const SANDBOX_BIN = join(
  dirname(createRequire(import.meta.url).resolve("nylas-sandbox/package.json")),
  "bin",
  "nylas-sandbox.ts",
);

describe("CLOCK_START in the processes", () => {
  it("the worker refuses it with NODE_ENV=production: one line, exit code 2", () => {
    // A queue prefix of its own: a worker that wrongly started would touch nothing shared.
    const env = {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: testDatabaseUrl(),
      NYLAS_API_KEY: "nyk_secret_abc",
      QUEUE_PREFIX: uniqueId("clk")
        .replace(/[^A-Za-z0-9_-]/g, "")
        .slice(0, 40),
      NODE_ENV: "production",
      CLOCK_START: CLOCK,
    };
    const res = spawnSync(process.execPath, ["--import", "tsx", "jobs/worker.ts"], {
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr.trim()).toBe(
      "worker: Invalid configuration: CLOCK_START is test-only and must be unset when NODE_ENV=production",
    );
  });

  it("the sandbox refuses it with NODE_ENV=production, and a CLOCK_START without a zone", () => {
    const run = (extra: Record<string, string>) =>
      spawnSync(process.execPath, ["--import", "tsx", SANDBOX_BIN], {
        env: { PATH: process.env.PATH ?? "", SANDBOX_PORT: "0", ...extra },
        encoding: "utf8",
        timeout: 60_000,
      });
    const prod = run({ NODE_ENV: "production", CLOCK_START: CLOCK });
    expect(prod.status).toBe(2);
    expect(prod.stderr.trim()).toBe("sandbox: CLOCK_START is test-only and must be unset when NODE_ENV=production");
    const bad = run({ CLOCK_START: "2026-03-07T20:00:00" });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^sandbox: CLOCK_START must be an ISO 8601 instant with Z or an offset/);
  });

  it("the sandbox seeds its data around the clock's 'today', whatever today is", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", SANDBOX_BIN, "--grants", "3"], {
      env: { PATH: process.env.PATH ?? "", SANDBOX_PORT: "0", CLOCK_START: CLOCK },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      const banner = new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: string) => {
          out += chunk;
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", (code) => reject(new Error(`sandbox exited with ${code}: ${out}`)));
      });
      const line = await banner;
      expect(line).toContain(`clock from ${new Date(CLOCK).toISOString()}`);
      const url = /^Nylas sandbox at (http:\/\/\S+)/.exec(line)![1]!;

      // The control API's "tomorrow" (no `now` given) is the clock's, for each grant's zone,
      // and the seed put meetings on it: with the real clock there would be none on that day.
      const grants = (
        (await (await fetch(`${url}/_sandbox/grants`)).json()) as {
          data: { id: string; zone: string; grant_status: string }[];
        }
      ).data;
      const expected = (
        (await (await fetch(`${url}/_sandbox/expected`)).json()) as { data: { grantId: string; day: string }[] }
      ).data;
      const valid = grants.filter((g) => g.grant_status === "valid");
      expect(valid.length).toBeGreaterThan(0);
      for (const g of valid) {
        const tomorrow = addDays(localDate(g.zone, Date.parse(CLOCK)), 1);
        const mine = expected.filter((e) => e.grantId === g.id);
        expect(mine.length, g.zone).toBeGreaterThan(0);
        expect(new Set(mine.map((e) => e.day)), g.zone).toEqual(new Set([tomorrow]));
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
  });
});
