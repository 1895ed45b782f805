import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../src/index.js";

let sb: Sandbox | undefined;
afterEach(async () => {
  await sb?.close();
  sb = undefined;
});

/** A clock the test moves by hand. */
function manualClock(startMs: number): { now: () => number; advance: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => (t += ms) };
}

async function get(s: Sandbox, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.apiKey}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const statusOf = async (s: Sandbox, id: string) =>
  ((await get(s, `/v3/grants/${id}`)).body.data as { grant_status: string }).grant_status;

const listed = async (s: Sandbox, query: string) =>
  ((await get(s, `/v3/grants?limit=100${query}`)).body.data as { id: string; grant_status: string }[]).map(
    (g) => `${g.id}:${g.grant_status}`,
  );

describe("grant_status lag", () => {
  it("answers 401 at once but reports the grant valid until the lag has passed", async () => {
    const clock = manualClock(Date.parse("2026-03-07T20:00:00Z"));
    const s = (sb = await startSandbox({ now: clock.now, grantStatusLagMs: 30_000 }));
    const id = s.addGrant({ email: "lag@x.test" }).id;
    s.invalidateGrant(id);
    expect((await get(s, `/v3/grants/${id}/events?calendar_id=primary`)).status).toBe(401);
    expect(await statusOf(s, id)).toBe("valid");
    expect(await listed(s, "")).toEqual([`${id}:valid`]);
    expect(await listed(s, "&grant_status=valid")).toEqual([`${id}:valid`]);
    expect(await listed(s, "&grant_status=invalid")).toEqual([]);
    clock.advance(29_999);
    expect(await statusOf(s, id)).toBe("valid");
    clock.advance(1);
    expect(await statusOf(s, id)).toBe("invalid");
    expect(await listed(s, "&grant_status=invalid")).toEqual([`${id}:invalid`]);
    // The control API tells the truth all along.
    expect(s.grant(id).grant_status).toBe("invalid");
  });

  it("ends the lag when the grant is restored, and starts none for a grant already invalid", async () => {
    const clock = manualClock(Date.parse("2026-03-07T20:00:00Z"));
    const s = (sb = await startSandbox({ now: clock.now, grantStatusLagMs: 60_000 }));
    const id = s.addGrant({ email: "restore@x.test" }).id;
    s.invalidateGrant(id);
    s.restoreGrant(id);
    expect(await statusOf(s, id)).toBe("valid");
    expect((await get(s, `/v3/grants/${id}/events?calendar_id=primary`)).status).toBe(200);
    const born = s.addGrant({ email: "born-invalid@x.test", grant_status: "invalid" }).id;
    expect(await statusOf(s, born)).toBe("invalid");
    s.invalidateGrant(born);
    expect(await statusOf(s, born)).toBe("invalid");
  });

  it("is 0 by default, set through the control API, and kept across reset", async () => {
    const clock = manualClock(Date.parse("2026-03-07T20:00:00Z"));
    const s = (sb = await startSandbox({ now: clock.now }));
    const control = (method: string, body?: unknown) =>
      fetch(`${s.url}/_sandbox/grant-status-lag`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect(await (await control("GET")).json()).toEqual({ ms: 0 });
    const a = s.addGrant({ email: "a@x.test" }).id;
    s.invalidateGrant(a);
    expect(await statusOf(s, a)).toBe("invalid");
    expect((await control("POST", { ms: 5000 })).status).toBe(200);
    expect(await (await control("GET")).json()).toEqual({ ms: 5000 });
    const b = s.addGrant({ email: "b@x.test" }).id;
    s.invalidateGrant(b);
    expect(await statusOf(s, b)).toBe("valid");
    for (const bad of [-1, 1.5, "5s", 86_400_001]) expect((await control("POST", { ms: bad })).status).toBe(400);
    // reset returns to the lag the sandbox started with.
    s.reset();
    expect(s.grantStatusLag()).toBe(0);
  });

  it("takes the lag from the CLI (--grant-status-lag-ms, SANDBOX_GRANT_STATUS_LAG_MS)", async () => {
    const pkg = fileURLToPath(new URL("..", import.meta.url));
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const child = spawn(process.execPath, ["--import", "tsx", "bin/nylas-sandbox.ts", "--port", "0", ...args], {
        cwd: pkg,
        env: { ...process.env, SANDBOX_GRANTS: "0", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => (err += c.toString()));
      const exited = once(child, "exit");
      try {
        const url = await new Promise<string | undefined>((resolve) => {
          const check = () => {
            const m = /Nylas sandbox at (http:\/\/\S+)/.exec(out);
            if (m) resolve(m[1]);
          };
          child.stdout.on("data", check);
          void exited.then(() => resolve(undefined));
        });
        if (!url) return { code: (await exited)[0] as number, err };
        const lag = (await (await fetch(`${url}/_sandbox/grant-status-lag`)).json()) as { ms: number };
        return { lag: lag.ms };
      } finally {
        if (child.exitCode === null) {
          child.kill("SIGTERM");
          await exited;
        }
      }
    };
    expect(await run(["--grant-status-lag-ms", "1234"])).toEqual({ lag: 1234 });
    expect(await run([], { SANDBOX_GRANT_STATUS_LAG_MS: "250" })).toEqual({ lag: 250 });
    expect(await run([])).toEqual({ lag: 0 });
    const bad = await run(["--grant-status-lag-ms", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/SANDBOX_GRANT_STATUS_LAG_MS must be a whole number/);
  }, 60_000);
});
