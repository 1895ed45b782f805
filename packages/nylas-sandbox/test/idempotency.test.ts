import { request as httpRequest } from "node:http";
import NylasImport from "nylas";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../src/index.js";

// Nylas' send idempotency (2026-04), through HTTP: `Idempotency-Key` on messages/send.

type NylasClass = typeof NylasImport.default;
const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);

/** The sandbox's clock runs `shiftMs` ahead of the real one: tests move time forward with it. */
let shiftMs = 0;
let sb: Sandbox;

beforeAll(async () => {
  // No provider send budget: these tests send several messages a second on purpose.
  sb = await startSandbox({ now: () => Date.now() + shiftMs, limits: { sendsPerSecond: 0 } });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => {
  sb.clearFaults();
  sb.setLatency({ ms: 0 });
  sb.setLimits({ sendsPerSecond: 0 });
  shiftMs = 0;
});

function freshGrant(): string {
  return sb.addGrant({ email: `i${Math.random().toString(36).slice(2, 10)}@idem.test` }).id;
}

const message = (subject = "Reminder: standup tomorrow at 9:00 AM UTC") => ({
  to: [{ email: "guest@example.com", name: "Guest" }],
  subject,
  body: "<p>See you there.</p>",
  custom_headers: [{ name: "X-Reminder-Id", value: "m-1" }],
});

interface Answer {
  status: number;
  replayed: string | null;
  body: { request_id: string; data?: { id: string }; error?: { type: string; message: string } };
}

async function send(grantId: string, key: string | undefined, body: unknown = message()): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json" };
  if (key !== undefined) headers["Idempotency-Key"] = key;
  const res = await fetch(`${sb.url}/v3/grants/${grantId}/messages/send`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get("idempotent-response"), body: (await res.json()) as never };
}

/** A send over node:http with the header name spelled exactly as given. */
function rawSend(grantId: string, headerName: string, key: string, body: unknown): Promise<Answer> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${sb.url}/v3/grants/${grantId}/messages/send`,
      {
        method: "POST",
        headers: {
          Authorization: `Bearer ${sb.apiKey}`,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(data),
          [headerName]: key,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode!,
            replayed: (res.headers["idempotent-response"] as string | undefined) ?? null,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

const notes = (grantId: string) => sb.requestLog({ grantId, route: "messages.send" }).map((e) => e.note);

describe("Idempotency-Key on messages/send", () => {
  it("answers a retry with the same key and payload from the first answer, and sends once", async () => {
    const id = freshGrant();
    const countersBefore = sb.counters();
    const first = await send(id, "key-1");
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    const again = await send(id, "key-1");
    expect(again).toEqual({ status: 200, replayed: "true", body: first.body });
    expect(again.body.data!.id).toBe(first.body.data!.id);
    // The header name is case-insensitive, and the JSON's key order is not part of the payload.
    const { to, subject, body, custom_headers } = message();
    const shouty = await rawSend(id, "IDEMPOTENCY-KEY", "key-1", { custom_headers, body, subject, to });
    expect(shouty).toMatchObject({ status: 200, replayed: "true", body: { data: { id: first.body.data!.id } } });

    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
    const sentFolder = sb.store.requireGrant(id).messages;
    expect(sentFolder).toHaveLength(1);
    expect(notes(id)).toEqual(["none", "idempotent_replay", "idempotent_replay"]);
    const counters = sb.counters();
    expect(counters.sends - countersBefore.sends).toBe(1);
    expect(counters.idempotentReplays - countersBefore.idempotentReplays).toBe(2);
  });

  it("scopes keys per grant, and sends without a key as before", async () => {
    const a = freshGrant();
    const b = freshGrant();
    const onA = await send(a, "shared-key");
    const onB = await send(b, "shared-key");
    expect(onB.status).toBe(200);
    expect(onB.replayed).toBeNull();
    expect(onB.body.data!.id).not.toBe(onA.body.data!.id);
    await send(a, undefined);
    await send(a, undefined);
    expect(sb.sentMessages({ grantId: a })).toHaveLength(3);
    expect(sb.sentMessages({ grantId: b })).toHaveLength(1);
  });

  it("through the SDK: the key passed as an override header", async () => {
    const id = freshGrant();
    const nylas = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url, timeout: 10 });
    const params = {
      identifier: id,
      requestBody: { to: [{ email: "sdk@example.com" }], subject: "s", body: "b" },
      overrides: { headers: { "Idempotency-Key": "sdk-key" } },
    };
    const first = await nylas.messages.send(params);
    const again = await nylas.messages.send(params);
    expect(again.data.id).toBe(first.data.id);
    expect(again.rawHeaders?.["idempotent-response"]).toBe("true");
    expect(first.rawHeaders?.["idempotent-response"]).toBeUndefined();
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
  });

  it("refuses the same key with another payload: 409 api.invalid_idempotent_request, nothing sent", async () => {
    const id = freshGrant();
    await send(id, "key-2");
    const other = await send(id, "key-2", message("Reminder: standup today at 9:00 AM UTC"));
    expect(other.status).toBe(409);
    expect(other.replayed).toBeNull();
    expect(other.body).toEqual({
      request_id: expect.any(String),
      error: { type: "api.invalid_idempotent_request", message: expect.any(String) },
    });
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
    expect(notes(id)).toEqual(["none", "idempotency_conflict"]);
    // The key still holds the first answer.
    expect((await send(id, "key-2")).replayed).toBe("true");
  });

  it("answers 409 api.concurrent_idempotent_request while the first request is in flight", async () => {
    const id = freshGrant();
    sb.setLatency({ ms: 0, perClass: { send: 600 } });
    const first = send(id, "key-3");
    await new Promise((r) => setTimeout(r, 150));
    const during = await send(id, "key-3");
    expect(during.status).toBe(409);
    expect(during.body.error!.type).toBe("api.concurrent_idempotent_request");
    const done = await first;
    expect(done.status).toBe(200);
    const after = await send(id, "key-3");
    expect(after).toMatchObject({ status: 200, replayed: "true", body: { data: { id: done.body.data!.id } } });
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
  });

  it("takes keys of up to 256 characters; a longer one is a 400 in Nylas' error envelope", async () => {
    const id = freshGrant();
    expect((await send(id, "k".repeat(256))).status).toBe(200);
    const long = await send(id, "k".repeat(257));
    expect(long.status).toBe(400);
    expect(long.body).toEqual({
      request_id: expect.any(String),
      error: { type: "invalid_request_error", message: expect.stringMatching(/256/) },
    });
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
  });

  it("forgets a key one hour after its first request, by the sandbox's clock", async () => {
    const id = freshGrant();
    const first = await send(id, "key-4");
    shiftMs = 59 * 60_000;
    expect((await send(id, "key-4")).replayed).toBe("true");
    shiftMs = 60 * 60_000 + 1000;
    const later = await send(id, "key-4");
    expect(later.status).toBe(200);
    expect(later.replayed).toBeNull();
    expect(later.body.data!.id).not.toBe(first.body.data!.id);
    expect(sb.sentMessages({ grantId: id })).toHaveLength(2);
    // The new send starts a new hour.
    shiftMs += 30 * 60_000;
    expect((await send(id, "key-4")).body.data!.id).toBe(later.body.data!.id);
  });

  it("keeps a send whose answer was dropped: the retry replays it", async () => {
    const id = freshGrant();
    sb.injectFault({ kind: "drop_after", routeClass: "send", grantId: id });
    const lost = await send(id, "key-5").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(lost).toBeInstanceOf(TypeError);
    const [sent] = sb.sentMessages({ grantId: id });
    expect(sent).toBeDefined();
    const retry = await send(id, "key-5");
    expect(retry).toMatchObject({ status: 200, replayed: "true", body: { data: { id: sent!.messageId } } });
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
    expect(notes(id)).toEqual(["dropped_after", "idempotent_replay"]);
  });

  it("does not keep a refusal before the send (injected 503, a dropped connection): the retry sends once", async () => {
    const id = freshGrant();
    sb.injectFault({ kind: 503, routeClass: "send", grantId: id });
    const refused = await send(id, "key-6");
    expect(refused.status).toBe(503);
    const retry = await send(id, "key-6");
    expect(retry.status).toBe(200);
    expect(retry.replayed).toBeNull();
    expect((await send(id, "key-6")).replayed).toBe("true");
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);

    sb.injectFault({ kind: "drop", routeClass: "send", grantId: id });
    await expect(send(id, "key-7")).rejects.toBeInstanceOf(TypeError);
    expect((await send(id, "key-7")).replayed).toBeNull();
    expect(sb.sentMessages({ grantId: id })).toHaveLength(2);
  });

  it("does not keep 429s (the key is released) but keeps the send's own 400", async () => {
    const id = freshGrant();
    sb.injectFault({ kind: 429, routeClass: "send", grantId: id, retryAfterS: 0 });
    expect((await send(id, "key-8")).status).toBe(429);
    expect((await send(id, "key-8")).replayed).toBeNull();
    const invalid = { ...message(), to: [{ email: "not an address" }] };
    const refused = await send(id, "key-9", invalid);
    expect(refused.status).toBe(400);
    expect(await send(id, "key-9", invalid)).toEqual({ ...refused, replayed: "true" });
    expect(sb.sentMessages({ grantId: id })).toHaveLength(1);
  });

  it("reset forgets every key", async () => {
    await send(freshGrant(), "key-10");
    expect(sb.idempotency.size).toBeGreaterThan(0);
    sb.reset();
    expect(sb.idempotency.size).toBe(0);
  });
});

describe("hide_headers fault", () => {
  it("serves the messages routes with empty headers, for the rule's grant and count", async () => {
    const id = freshGrant();
    const other = freshGrant();
    await send(id, undefined);
    await send(other, undefined);
    const list = async (grantId: string) => {
      const res = await fetch(`${sb.url}/v3/grants/${grantId}/messages?in=SENT&fields=include_headers`, {
        headers: { authorization: `Bearer ${sb.apiKey}` },
      });
      return ((await res.json()) as { data: { headers: { name: string }[] }[] }).data;
    };
    sb.injectFault({ kind: "hide_headers", grantId: id, count: 1 });
    expect((await list(id))[0]!.headers).toEqual([]);
    expect((await list(other))[0]!.headers.map((h) => h.name)).toContain("X-Reminder-Id");
    expect((await list(id))[0]!.headers.map((h) => h.name)).toContain("X-Reminder-Id");
    expect(sb.requestLog({ grantId: id, route: "messages.list" }).map((e) => e.note)).toEqual([
      "headers_hidden",
      "none",
    ]);
    expect(() => sb.injectFault({ kind: "hide_headers", routeClass: "events" })).toThrow(/messages/);
  });
});
