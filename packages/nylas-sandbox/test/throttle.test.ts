import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_LIMITS, startSandbox, type Provider, type Sandbox } from "../src/index.js";

let sb: Sandbox;

interface Answer {
  status: number;
  body: { error?: { type: string; message: string; provider_error?: Record<string, unknown> } };
  retryAfter: string | null;
}

async function api(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${sb.url}/v3${path}`, {
    ...init,
    headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json", ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as Answer["body"], retryAfter: res.headers.get("retry-after") };
}

let n = 0;
const grant = (provider: Provider) => sb.addGrant({ email: `t${n++}@throttle.test`, provider, timezone: "UTC" }).id;
const read = (id: string) => api(`/grants/${id}/events?calendar_id=primary`);
const send = (id: string) =>
  api(`/grants/${id}/messages/send`, {
    method: "POST",
    body: JSON.stringify({ to: [{ email: "x@y.test" }], subject: "s", body: "b" }),
  });

/**
 * `k` reads of a fresh grant at once, again with another grant until the sandbox's log shows
 * them all inside one second (a loaded machine may straggle into the next window).
 */
async function burst(provider: Provider, k: number): Promise<{ id: string; answers: Answer[] }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = grant(provider);
    const answers = await Promise.all(Array.from({ length: k }, () => read(id)));
    const log = sb.requestLog({ grantId: id });
    const span = Math.max(...log.map((e) => e.at)) - Math.min(...log.map((e) => e.at - e.ms));
    if (span < 900) return { id, answers };
  }
  throw new Error(`five bursts of ${k} in a row took the sandbox over a second each`);
}

beforeEach(async () => {
  sb = await startSandbox();
});
afterEach(async () => {
  await sb.close();
});

describe("provider read budgets", () => {
  it("never refuses a client keeping to the worker's default budgets (20 reads/s, 2 and 3 sends/s)", async () => {
    const ids = (["google", "microsoft", "icloud", "imap"] as const).map(grant);
    const statuses: number[] = [];
    // 30 ticks at 20 reads/s per grant, each a full 50 ms after the previous tick's answers (as
    // the worker spaces its calls): however late an answer comes, the next tick never catches
    // up, so the sandbox sees at most 20 reads, 2 Google and 3 Microsoft sends in any second.
    let answered = 0;
    for (let tick = 0; tick < 30; tick++) {
      const due = answered + 50;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      const calls = ids.map((id) => {
        const g = sb.store.getGrant(id)!;
        if (g.grant.provider === "imap") return api(`/grants/${id}/messages`);
        // iCloud has no `primary`: its own calendar by id.
        return api(`/grants/${id}/events?calendar_id=${encodeURIComponent(g.primaryCalendarId)}`);
      });
      // Sends every 11 and 8 ticks: Google 2/s, Microsoft 3/s.
      if (tick % 11 === 0) calls.push(send(ids[0]!));
      if (tick % 8 === 0) calls.push(send(ids[1]!));
      statuses.push(...(await Promise.all(calls)).map((a) => a.status));
      answered = Date.now();
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(sb.counters().rateLimitedProvider).toBe(0);
    expect(DEFAULT_LIMITS.readsPerSecond.microsoft).toBeGreaterThanOrEqual(50); // the chaos suite's 50/s too
  });

  it("answers reads over the provider's budget with 429 rate_limit_error in the provider's shape", async () => {
    sb.setLimits({ readsPerSecond: { microsoft: 3, google: 2 } });
    const ms = await burst("microsoft", 5);
    const refused = ms.answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.body.error).toMatchObject({
      type: "rate_limit_error",
      provider_error: { code: "ApplicationThrottled" },
    });
    expect(Number(refused[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    const g = await burst("google", 4);
    const gRefused = g.answers.filter((a) => a.status === 429);
    expect(gRefused).toHaveLength(2);
    expect(gRefused[0]!.body.error!.provider_error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    const notes = sb.requestLog({ status: 429 }).map((e) => e.note);
    expect(notes.every((x) => x === "provider_rate_limit")).toBe(true);
    expect(sb.counters().rateLimitedProvider).toBe(notes.length);
  });

  it("does not count what Nylas refuses itself (a 400) against the provider's budget", async () => {
    sb.setLimits({ readsPerSecond: { google: 1 } });
    const id = grant("google");
    const bad = await Promise.all([1, 2, 3].map(() => api(`/grants/${id}/events?calendar_id=primary&limit=999`)));
    expect(bad.map((a) => a.status)).toEqual([400, 400, 400]);
    expect((await read(id)).status).toBe(200);
  });

  it("leaves Retry-After out with the configured probability, the same way on every run", async () => {
    const pattern = async () => {
      const local = await startSandbox({
        limits: { readsPerSecond: { microsoft: 1 }, providerThrottleMs: { microsoft: 60_000 } },
      });
      try {
        local.setLimits({ retryAfterMissingProbability: { microsoft: 0.5 } });
        const id = local.addGrant({ email: "r@throttle.test", provider: "microsoft" }).id;
        const call = async () => {
          const res = await fetch(`${local.url}/v3/grants/${id}/events?calendar_id=primary`, {
            headers: { authorization: `Bearer ${local.apiKey}` },
          });
          await res.body?.cancel();
          return res.status === 429 ? (res.headers.get("retry-after") ?? "-") : String(res.status);
        };
        const out: string[] = [];
        for (let i = 0; i < 24; i++) out.push(await call());
        return out;
      } finally {
        await local.close();
      }
    };
    const a = await pattern();
    const b = await pattern();
    expect(a).toEqual(b);
    expect(a[0]).toBe("200");
    const refusals = a.slice(1);
    expect(refusals.every((x) => x !== "200")).toBe(true); // throttled for the whole span
    expect(refusals.filter((x) => x === "-").length).toBeGreaterThan(0);
    expect(refusals.filter((x) => x !== "-").length).toBeGreaterThan(0);
    expect(refusals.filter((x) => x !== "-").every((x) => Number(x) >= 1 && Number(x) <= 60)).toBe(true);
  });
});

describe("Microsoft-style throttle span", () => {
  it("refuses every request of a mailbox for the span once it went over budget, then serves it again", async () => {
    sb.setLimits({ sendsPerSecond: { microsoft: 1 }, providerThrottleMs: { microsoft: 1500 } });
    const id = grant("microsoft");
    const other = grant("microsoft");
    const first = await Promise.all([send(id), send(id)]);
    expect(first.map((a) => a.status).sort()).toEqual([200, 429]);
    const started = Date.now();
    // Reads and sends alike are refused during the span, with the provider's error.
    const during = await read(id);
    expect(during.status).toBe(429);
    expect(during.body.error!.type).toBe("rate_limit_error");
    expect(during.body.error!.message).toMatch(/throttling this mailbox/);
    expect(Number(during.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await api(`/grants/${id}/folders`)).status).toBe(429);
    // Another mailbox of the same provider is not affected.
    expect((await read(other)).status).toBe(200);
    await vi.waitFor(async () => expect((await read(id)).status).toBe(200), { timeout: 10_000, interval: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await send(id)).status).toBe(200);
  });

  it("is off by default and applies to the providers it is set for", async () => {
    expect(sb.limits().providerThrottleMs).toEqual({ default: 0 });
    sb.setLimits({ sendsPerSecond: { google: 1 }, providerThrottleMs: { microsoft: 60_000 } });
    const id = grant("google");
    const first = await Promise.all([send(id), send(id)]);
    expect(first.map((a) => a.status).sort()).toEqual([200, 429]);
    await vi.waitFor(async () => expect((await read(id)).status).toBe(200), { timeout: 2000, interval: 50 });
  });
});

describe("limits through the control API", () => {
  it("reads and sets every limit, per provider or for all, and refuses bad values", async () => {
    const post = (body: unknown) =>
      fetch(`${sb.url}/_sandbox/limits`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const set = await post({
      readsPerSecond: { microsoft: 5 },
      retryAfterMissingProbability: 0.25,
      providerThrottleMs: { microsoft: 30_000 },
    });
    expect(set.status).toBe(200);
    const got = (await (await fetch(`${sb.url}/_sandbox/limits`)).json()) as typeof DEFAULT_LIMITS;
    expect(got.readsPerSecond).toEqual({ ...DEFAULT_LIMITS.readsPerSecond, microsoft: 5 });
    expect(got.retryAfterMissingProbability).toEqual({ default: 0.25 });
    expect(got.providerThrottleMs).toEqual({ default: 0, microsoft: 30_000 });
    for (const bad of [
      { readsPerSecond: -1 },
      { readsPerSecond: { google: 1.5 } },
      { retryAfterMissingProbability: 2 },
      { providerThrottleMs: { microsoft: -5 } },
      { providerThrottleMs: "60s" },
    ])
      expect((await post(bad)).status, JSON.stringify(bad)).toBe(400);
    sb.reset();
    expect(sb.limits()).toEqual(DEFAULT_LIMITS);
  });
});
