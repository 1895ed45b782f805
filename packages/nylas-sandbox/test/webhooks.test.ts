import { spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import NylasImport from "nylas";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type DeliveryRecord, type Sandbox } from "../src/index.js";

// Node loads the SDK's ESM build (default export = the class) while TypeScript under NodeNext
// reads its typings as CommonJS (class under `.default`): bridge the two.
type NylasClass = typeof NylasImport.default;
const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);

const BIN = fileURLToPath(new URL("../bin/nylas-sandbox.ts", import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));

interface Received {
  method: string;
  url: URL;
  signature?: string;
  contentType?: string;
  raw: string;
  /** The parsed notification (POSTs only). */
  body?: {
    specversion: string;
    type: string;
    source: string;
    id: string;
    time: number;
    webhook_delivery_attempt: number;
    data: { application_id: string; object: Record<string, unknown> };
  };
}

type Answer = { status: number; body?: string; delayMs?: number } | "hang";

/**
 * A tiny webhook receiver: records every request; `challenge` and `post` decide the answers
 * (default: echo the challenge, 200 to every POST).
 */
class Receiver {
  readonly got: Received[] = [];
  challenge: (challenge: string) => Answer = (c) => ({ status: 200, body: c });
  post: (r: Received, nth: number) => Answer = () => ({ status: 200 });
  private server!: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  posts(): Received[] {
    return this.got.filter((r) => r.method === "POST");
  }

  challenges(): Received[] {
    return this.got.filter((r) => r.method === "GET");
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const r: Received = { method: req.method!, url: new URL(req.url!, "http://x"), raw };
    const sig = req.headers["x-nylas-signature"];
    if (typeof sig === "string") r.signature = sig;
    if (req.headers["content-type"]) r.contentType = req.headers["content-type"];
    if (r.method === "POST") r.body = JSON.parse(raw) as Received["body"];
    this.got.push(r);
    const answer =
      r.method === "GET"
        ? this.challenge(r.url.searchParams.get("challenge") ?? "")
        : this.post(r, this.posts().length);
    if (answer === "hang") return; // never answers; the sandbox's timeout must act
    if (answer.delayMs) await new Promise((s) => setTimeout(s, answer.delayMs));
    res.writeHead(answer.status, { "content-type": "text/plain" });
    res.end(answer.body ?? "");
  }
}

/** Answers are read field by field in the assertions; their shapes are what is under test. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

const hmac = (raw: string, secret: string) => createHmac("sha256", secret).update(raw, "utf8").digest("hex");

async function api(sb: Sandbox, method: string, path: string, body?: unknown) {
  const res = await fetch(`${sb.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Loose };
}

async function control(sb: Sandbox, method: string, path: string, body?: unknown) {
  const res = await fetch(`${sb.url}/_sandbox/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Loose };
}

const ALL = [
  "grant.created",
  "grant.updated",
  "grant.deleted",
  "grant.expired",
  "event.created",
  "event.updated",
  "event.deleted",
];
const start = Math.floor(Date.now() / 1000) + 86_400;
const timed = (i: number) => ({
  title: `m${i}`,
  when: { start_time: start + i * 3600, end_time: start + i * 3600 + 1800 },
});

describe("webhook destinations (/v3/webhooks) and Nylas' challenge", () => {
  let sb: Sandbox;
  let rx: Receiver;
  beforeAll(async () => {
    sb = await startSandbox({ clientId: "app-wh" });
  });
  afterAll(() => sb.close());
  beforeEach(async () => {
    rx = await new Receiver().start();
  });
  afterEach(async () => {
    for (const d of sb.webhooks.destinations.keys()) sb.webhooks.destinations.delete(d);
    sb.reset();
    await rx.close();
  });

  it("creates a destination through the SDK once the URL echoes the challenge; lists, finds, updates, deletes it", async () => {
    const nylas = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url });
    const created = await nylas.webhooks.create({
      requestBody: {
        triggerTypes: ["grant.expired", "event.created"] as never,
        webhookUrl: rx.url,
        description: "tests",
        notificationEmailAddresses: ["ops@example.com"],
      },
    });
    expect(created.data).toMatchObject({
      triggerTypes: ["grant.expired", "event.created"],
      webhookUrl: rx.url,
      status: "active",
      description: "tests",
      notificationEmailAddresses: ["ops@example.com"],
    });
    expect(created.data.webhookSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The challenge came first: a GET on the URL with a random challenge, echoed.
    const [challenge] = rx.challenges();
    expect(challenge!.url.pathname).toBe("/hook");
    expect(challenge!.url.searchParams.get("challenge")).toMatch(/^[0-9a-f]{32}$/);

    const id = created.data.id;
    const listed = await api(sb, "GET", "/v3/webhooks");
    expect(listed.status).toBe(200);
    expect(listed.json.data).toHaveLength(1);
    expect(listed.json.data[0].webhook_secret).toBeUndefined();
    const found = await nylas.webhooks.find({ webhookId: id });
    expect(found.data).toMatchObject({ id, webhookUrl: rx.url, status: "active" });
    expect((found.data as { webhookSecret?: string }).webhookSecret).toBeUndefined();

    const paused = await api(sb, "PUT", `/v3/webhooks/${id}`, { status: "pause", description: "paused" });
    expect(paused.json.data).toMatchObject({
      status: "pause",
      description: "paused",
      trigger_types: ["grant.expired", "event.created"],
    });
    expect(rx.challenges()).toHaveLength(1); // pausing needs no challenge

    const rotated = await api(sb, "POST", `/v3/webhooks/rotate-secret/${id}`, {});
    expect(rotated.json.data.webhook_secret).not.toBe(created.data.webhookSecret);

    const del = await api(sb, "DELETE", `/v3/webhooks/${id}`);
    expect(del.json.data).toEqual({ status: "success" });
    const gone = await api(sb, "GET", `/v3/webhooks/${id}`);
    expect(gone.status).toBe(400);
    expect(gone.json.error.message).toMatch(/^destination\.id\.not\.found/);
  });

  it("refuses the destination when the challenge fails: wrong status, wrong body, or no answer in time", async () => {
    const body = { trigger_types: ["grant.created"], webhook_url: rx.url };
    rx.challenge = () => ({ status: 404, body: "nope" });
    const notFound = await api(sb, "POST", "/v3/webhooks", body);
    expect(notFound.status).toBe(400);
    expect(notFound.json.error).toEqual({
      type: "70005",
      message: "unable.verify.webhook_url : status is not ok, got 404",
    });

    rx.challenge = (c) => ({ status: 200, body: `${c}\n` }); // not exactly the challenge
    const wrong = await api(sb, "POST", "/v3/webhooks", body);
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.message).toBe("unable.verify.webhook_url : the response body is not the challenge");

    await control(sb, "POST", "webhooks/config", { challengeTimeoutMs: 200 });
    rx.challenge = () => "hang";
    const slow = await api(sb, "POST", "/v3/webhooks", body);
    expect(slow.status).toBe(400);
    expect(slow.json.error.message).toBe("unable.verify.webhook_url : no answer within 0.2 s");

    expect((await api(sb, "GET", "/v3/webhooks")).json.data).toEqual([]);
    const overview = (await control(sb, "GET", "webhooks")).json;
    expect(overview.challenges.map((c: { ok: boolean; status: number }) => [c.ok, c.status])).toEqual([
      [false, 404],
      [false, 200],
      [false, 0],
    ]);
  });

  it("validates the payload as the spec says", async () => {
    const bad = async (b: unknown) => (await api(sb, "POST", "/v3/webhooks", b)).status;
    expect(await bad({ webhook_url: rx.url })).toBe(400);
    expect(await bad({ trigger_types: [], webhook_url: rx.url })).toBe(400);
    expect(await bad({ trigger_types: ["grant.exploded"], webhook_url: rx.url })).toBe(400);
    expect(await bad({ trigger_types: ["grant.created"], webhook_url: "ftp://127.0.0.1/x" })).toBe(400);
    // A local fake never calls out: only this machine, unless started with allowRemote.
    expect(await bad({ trigger_types: ["grant.created"], webhook_url: "https://example.com/hook" })).toBe(400);
    expect(rx.challenges()).toHaveLength(0);
    const unauth = await fetch(`${sb.url}/v3/webhooks`);
    expect(unauth.status).toBe(401);
  });

  it("re-activating a paused destination passes the challenge again; a failed one leaves it paused", async () => {
    const id = (await api(sb, "POST", "/v3/webhooks", { trigger_types: ALL, webhook_url: rx.url })).json.data.id;
    await api(sb, "PUT", `/v3/webhooks/${id}`, { status: "pause" });
    sb.addGrant({ email: "paused@example.com" }); // nothing goes to a paused destination
    rx.challenge = () => ({ status: 500 });
    const failed = await api(sb, "PUT", `/v3/webhooks/${id}`, { status: "active" });
    expect(failed.status).toBe(400);
    expect((await api(sb, "GET", `/v3/webhooks/${id}`)).json.data.status).toBe("pause");
    rx.challenge = (c) => ({ status: 200, body: c });
    const ok = await api(sb, "PUT", `/v3/webhooks/${id}`, { status: "active" });
    expect(ok.json.data.status).toBe("active");
    expect(rx.challenges()).toHaveLength(3);
    expect((await sb.webhooks.flush()).idle).toBe(true);
    expect(rx.posts()).toHaveLength(0);
  });
});

describe("notifications", () => {
  let sb: Sandbox;
  let rx: Receiver;
  let secret: string;
  let destination: string;
  beforeEach(async () => {
    rx = await new Receiver().start();
    sb = await startSandbox({ clientId: "app-wh", seed: { grants: 0, seed: 7 } });
    const created = await api(sb, "POST", "/v3/webhooks", { trigger_types: ALL, webhook_url: rx.url });
    secret = created.json.data.webhook_secret;
    destination = created.json.data.id;
  });
  afterEach(async () => {
    await sb.close();
    await rx.close();
  });

  const flush = async () =>
    expect((await control(sb, "POST", "webhooks/flush", { expedite: true })).json).toEqual({
      idle: true,
      pending: 0,
      held: 0,
    });

  it("signs every delivery with the destination's secret: hex HMAC-SHA256 of the raw body", async () => {
    const g = sb.addGrant({ email: "sig@example.com", provider: "microsoft" });
    await flush();
    const [post] = rx.posts();
    expect(post!.contentType).toBe("application/json");
    expect(post!.signature).toBe(hmac(post!.raw, secret));
    expect(post!.signature).not.toBe(hmac(post!.raw, "another secret"));
    expect(JSON.parse(post!.raw)).toEqual({
      specversion: "1.0",
      type: "grant.created",
      source: "/nylas/system",
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      time: expect.any(Number),
      webhook_delivery_attempt: 1,
      data: {
        application_id: "app-wh",
        object: {
          code: 25012,
          grant_id: g.id,
          integration_id: "sandbox-microsoft-connector",
          provider: "microsoft",
          email: "sig@example.com",
          scope: g.scope,
        },
      },
    });
    // The envelope's keys in Nylas' order, as the bytes were signed.
    expect(Object.keys(JSON.parse(post!.raw))).toEqual([
      "specversion",
      "type",
      "source",
      "id",
      "time",
      "webhook_delivery_attempt",
      "data",
    ]);
  });

  it("grant.expired, grant.updated (re-auth), grant.deleted and event.* carry Nylas' objects", async () => {
    const g = sb.addGrant({ email: "life@example.com" });
    const ev = sb.addEvent(g.id, timed(1));
    sb.moveEvent(g.id, ev.id, start + 7200);
    sb.invalidateGrant(g.id);
    sb.invalidateGrant(g.id); // already invalid: no second grant.expired
    sb.updateEvent(g.id, ev.id, { title: "unseen" }); // Nylas cannot see an invalid grant's data
    sb.restoreGrant(g.id);
    sb.deleteEvent(g.id, ev.id);
    await control(sb, "DELETE", `grants/${g.id}`);
    await flush();
    const bodies = rx.posts().map((p) => p.body!);
    expect(bodies.map((b) => b.type)).toEqual([
      "grant.created",
      "event.created",
      "event.updated",
      "grant.expired",
      "grant.updated",
      "event.deleted",
      "grant.deleted",
    ]);
    const [, created, updated, expired, reauth, deleted, gone] = bodies;
    expect(created!.source).toBe("/google/events/realtime");
    expect(created!.data.object).toMatchObject({ id: ev.id, object: "event", grant_id: g.id, title: "m1" });
    expect(updated!.data.object).toMatchObject({
      id: ev.id,
      when: { start_time: start + 7200, end_time: start + 9000 },
    });
    expect(expired!.data.object).toEqual({
      code: 25009,
      grant_id: g.id,
      integration_id: "sandbox-google-connector",
      provider: "google",
      email: "life@example.com",
      grant_updated_at: g.updated_at,
    });
    expect(reauth!.data.object).toMatchObject({ code: 25027, grant_id: g.id, reauthentication_flag: true });
    expect(deleted!.data.object).toEqual({ grant_id: g.id, calendar_id: ev.calendar_id, id: ev.id, object: "event" });
    expect(gone!.data.object).toMatchObject({ code: 25013, grant_id: g.id });
    expect((await api(sb, "GET", `/v3/grants/${g.id}`)).status).toBe(404);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(bodies.length);
  });

  it("event.updated carries the event exactly as GET /events/{id} returns it", async () => {
    const g = sb.addGrant({ email: "ev@example.com", timezone: "Europe/Paris" });
    const ev = sb.addEvent(g.id, { ...timed(2), participants: [{ email: "a@example.com" }] });
    sb.updateEvent(g.id, ev.id, { title: "renamed" });
    await flush();
    const got = await api(sb, "GET", `/v3/grants/${g.id}/events/${ev.id}?calendar_id=primary`);
    const update = rx.posts().find((p) => p.body!.type === "event.updated")!;
    expect(update.body!.data.object).toEqual(got.json.data);
  });

  it("hosted OAuth: the first sign-in is grant.created, signing in again grant.updated", async () => {
    const signIn = async () => {
      const verifier = randomBytes(32).toString("base64url");
      const u = new URL(`${sb.url}/v3/connect/auth`);
      u.search = new URLSearchParams({
        client_id: "app-wh",
        redirect_uri: "http://127.0.0.1:9/cb",
        response_type: "code",
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();
      const html = await (await fetch(u)).text();
      const authId = /name="auth_id" value="([^"]+)"/.exec(html)![1]!;
      const form = new URLSearchParams({ auth_id: authId, decision: "allow", email: "oauth@example.com" });
      const back = await fetch(`${sb.url}/v3/connect/auth/consent`, { method: "POST", body: form, redirect: "manual" });
      const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
      const token = await fetch(`${sb.url}/v3/connect/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_id: "app-wh",
          client_secret: sb.apiKey,
          grant_type: "authorization_code",
          code,
          redirect_uri: "http://127.0.0.1:9/cb",
          code_verifier: verifier,
        }),
      });
      return ((await token.json()) as { grant_id: string }).grant_id;
    };
    const first = await signIn();
    const again = await signIn();
    expect(again).toBe(first);
    await flush();
    expect(rx.posts().map((p) => [p.body!.type, p.body!.data.object.grant_id, p.body!.data.object.code])).toEqual([
      ["grant.created", first, 25012],
      ["grant.updated", first, 25027],
    ]);
  });

  it("retries a 500 or a timeout with backoff: the same id, webhook_delivery_attempt counting up", async () => {
    await control(sb, "POST", "webhooks/config", { retryBaseMs: 50, timeoutMs: 300, maxAttempts: 3 });
    rx.post = (_r, nth) => (nth === 1 ? { status: 500 } : nth === 2 ? "hang" : { status: 204 });
    const t0 = Date.now();
    sb.addGrant({ email: "retry@example.com" });
    // No expedite here: the backoff itself is under test.
    expect((await sb.webhooks.flush()).idle).toBe(true);
    const posts = rx.posts();
    expect(posts.map((p) => p.body!.webhook_delivery_attempt)).toEqual([1, 2, 3]);
    expect(new Set(posts.map((p) => p.body!.id)).size).toBe(1);
    for (const p of posts) expect(p.signature).toBe(hmac(p.raw, secret)); // each attempt's own bytes
    // 50 ms before the 2nd attempt, the 2nd's 300 ms timeout, then 100 ms before the 3rd.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    const [d] = sb.webhooks.deliveries({ destinationId: destination });
    expect(d!.state).toBe("delivered");
    expect(d!.attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, 500, undefined],
      [2, 0, "timeout"],
      [3, 204, undefined],
    ]);
  });

  it("gives up after maxAttempts and logs the failure", async () => {
    await control(sb, "POST", "webhooks/config", { retryBaseMs: 10_000, maxAttempts: 4 });
    rx.post = () => ({ status: 503 });
    const g = sb.addGrant({ email: "down@example.com" });
    await flush(); // expedite skips the 10 s, 20 s and 40 s waits
    const log = (await control(sb, "GET", `webhooks/deliveries?grant_id=${g.id}`)).json.data as DeliveryRecord[];
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      state: "failed",
      type: "grant.created",
      webhookUrl: rx.url,
      destinationId: destination,
    });
    expect(log[0]!.attempts.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    expect(rx.posts()).toHaveLength(4);
  });

  it("delivers a notification twice, byte for byte, when told to", async () => {
    await control(sb, "POST", "webhooks/config", { duplicateProbability: 1 });
    sb.addGrant({ email: "dup@example.com" });
    await flush();
    const [a, b] = rx.posts();
    expect(rx.posts()).toHaveLength(2);
    expect(b!.raw).toBe(a!.raw);
    expect(b!.signature).toBe(a!.signature);
    const [d] = sb.webhooks.deliveries();
    expect(d!.attempts.map((x) => [x.attempt, x.duplicate, x.status])).toEqual([
      [1, false, 200],
      [1, true, 200],
    ]);
  });

  it("duplicates and delays follow the seed: the same seed gives the same plan", async () => {
    const plan = async (seed: number) => {
      const other = await startSandbox({ seed: { grants: 0, seed } });
      try {
        await other.webhooks.register({ url: rx.url });
        other.webhooks.configure({ duplicateProbability: 0.5, maxDelayMs: 1000, hold: true });
        for (let i = 0; i < 12; i++) other.addGrant({ email: `p${i}@example.com` });
        return other.webhooks.deliveries().map((d) => [d.plannedDelayMs, d.duplicatePlanned]);
      } finally {
        await other.close();
      }
    };
    const a = await plan(11);
    expect(await plan(11)).toEqual(a);
    expect(await plan(12)).not.toEqual(a);
    expect(a.some(([, dup]) => dup)).toBe(true);
    expect(a.some(([, dup]) => !dup)).toBe(true);
  });

  it("random delays let a later notification arrive first", async () => {
    await control(sb, "POST", "webhooks/config", { maxDelayMs: 600 });
    const g = sb.addGrant({ email: "order@example.com" });
    for (let i = 0; i < 8; i++) sb.addEvent(g.id, timed(i));
    const plan = sb.webhooks.deliveries();
    // A pair planned well apart (> 250 ms) in the wrong order must arrive in the wrong order.
    let pair: [DeliveryRecord, DeliveryRecord] | undefined;
    for (const [i, early] of plan.entries())
      for (const late of plan.slice(i + 1))
        if (early.plannedDelayMs - late.plannedDelayMs > 250) pair ??= [early, late];
    expect(pair, "seed 7 plans an overtaking pair").toBeDefined();
    expect((await sb.webhooks.flush()).idle).toBe(true);
    const arrived = rx.posts().map((p) => p.body!.id);
    expect(arrived).toHaveLength(9);
    expect(arrived.indexOf(pair![1].notificationId)).toBeLessThan(arrived.indexOf(pair![0].notificationId));
  });

  it("holds notifications and releases them in a chosen order, one by one", async () => {
    await control(sb, "POST", "webhooks/config", { hold: true });
    const g = sb.addGrant({ email: "hold@example.com" });
    sb.invalidateGrant(g.id);
    sb.restoreGrant(g.id);
    expect(await sb.webhooks.flush({ timeoutMs: 50 })).toEqual({ idle: true, pending: 0, held: 3 });
    expect(rx.posts()).toHaveLength(0);
    expect((await control(sb, "POST", "webhooks/release", { order: "reverse", limit: 1 })).json).toEqual({
      released: 1,
    });
    expect(await sb.webhooks.flush()).toEqual({ idle: true, pending: 0, held: 2 });
    expect(rx.posts().map((p) => p.body!.type)).toEqual(["grant.updated"]);
    await control(sb, "POST", "webhooks/release", { order: "reverse" });
    await flush();
    expect(rx.posts().map((p) => p.body!.type)).toEqual(["grant.updated", "grant.expired", "grant.created"]);
  });

  it("sends each destination only the triggers it subscribed to", async () => {
    const events = await new Receiver().start();
    try {
      await api(sb, "PUT", `/v3/webhooks/${destination}`, { trigger_types: ["grant.expired"] });
      await api(sb, "POST", "/v3/webhooks", {
        trigger_types: ["event.created", "event.deleted"],
        webhook_url: events.url,
      });
      const g = sb.addGrant({ email: "filter@example.com" });
      const ev = sb.addEvent(g.id, timed(3));
      sb.updateEvent(g.id, ev.id, { title: "changed" });
      sb.deleteEvent(g.id, ev.id);
      sb.invalidateGrant(g.id);
      await flush();
      expect(rx.posts().map((p) => p.body!.type)).toEqual(["grant.expired"]);
      expect(events.posts().map((p) => p.body!.type)).toEqual(["event.created", "event.deleted"]);
      // Each destination signs with its own secret.
      expect(events.posts()[0]!.signature).not.toBe(hmac(events.posts()[0]!.raw, secret));
    } finally {
      await events.close();
    }
  });
});

describe("the CLI's --webhook-url", () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await new Receiver().start();
  });
  afterEach(() => rx.close());

  it("registers the destination at start with the given secret, after the challenge", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", BIN, "--grants", "0", "--webhook-url", rx.url, "--webhook-secret", "whsec_cli_123456"],
      { cwd: PACKAGE_DIR, env: { PATH: process.env.PATH ?? "", SANDBOX_PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      const lines = await new Promise<string[]>((resolve, reject) => {
        child.stdout.on("data", (c: string) => {
          out += c;
          if (out.split("\n").length > 2) resolve(out.split("\n"));
        });
        child.once("exit", (code) => reject(new Error(`sandbox exited with ${code}: ${out}`)));
      });
      const url = /^Nylas sandbox at (http:\/\/\S+)/.exec(lines[0]!)![1]!;
      expect(lines[1]).toMatch(
        /^sandbox: webhook destination \w{26} -> .*\/hook \(challenge passed\); webhook secret: whsec_cli_123456$/,
      );
      expect(rx.challenges()).toHaveLength(1);
      await fetch(`${url}/_sandbox/grants`, { method: "POST", body: JSON.stringify({ email: "cli@example.com" }) });
      await fetch(`${url}/_sandbox/webhooks/flush`, { method: "POST" });
      const [post] = rx.posts();
      expect(post!.body!.type).toBe("grant.created");
      expect(post!.signature).toBe(hmac(post!.raw, "whsec_cli_123456"));
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
  });

  it("exits 2 with one line when the challenge fails", async () => {
    rx.challenge = () => ({ status: 403 });
    // Not spawnSync: the receiver answering the challenge lives in this process.
    const child = spawn(process.execPath, ["--import", "tsx", BIN, "--grants", "0"], {
      cwd: PACKAGE_DIR,
      env: { PATH: process.env.PATH ?? "", SANDBOX_PORT: "0", SANDBOX_WEBHOOK_URL: rx.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(rx.challenges()).toHaveLength(1);
    expect(stderr.trim()).toBe(
      `sandbox: could not start: unable.verify.webhook_url : status is not ok, got 403 (SANDBOX_WEBHOOK_URL ${rx.url})`,
    );
  });
});
