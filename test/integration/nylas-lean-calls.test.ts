import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { calendarAccess } from "../../src/grants/calendar.js";
import { NylasApi, type OutgoingMessage } from "../../src/nylas/client.js";
import { classifyError } from "../../src/nylas/errors.js";
import { addDays, localDate, localDayWindow } from "../../src/time/window.js";

// The worker's two hot calls (an events page, a send) skip the SDK's generic key conversion
// (src/nylas/lean-request.ts). Here, against the sandbox, each is compared with the SDK's own
// call: the same request on the wire, the same objects back, the same errors.
describe("the lean events page and send against the SDK's", () => {
  let sandbox: Sandbox;
  let api: NylasApi;
  const now = new Date();
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: { grants: 40, now } });
    api = new NylasApi({ apiKey: sandbox.apiKey, apiUri: sandbox.url, timeout: 2 });
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    sandbox.setLatency({ ms: 0 });
    sandbox.clearFaults();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  /** Every request `run` makes, as the server receives it (the Idempotency-Key aside). */
  async function wire(run: () => Promise<unknown>): Promise<unknown[]> {
    const seen: unknown[] = [];
    globalThis.fetch = async (input, init) => {
      const request = new Request(input as Request, init);
      const copy = request.clone();
      const headers = [...copy.headers].filter(([name]) => name !== "idempotency-key");
      seen.push({ method: copy.method, url: copy.url, headers, body: await copy.text() });
      return realFetch(request);
    };
    try {
      await run().catch(() => {});
    } finally {
      globalThis.fetch = realFetch;
    }
    return seen;
  }

  const caught = async (p: Promise<unknown>): Promise<Record<string, unknown>> => {
    try {
      await p;
    } catch (err) {
      return err as Record<string, unknown>;
    }
    throw new Error("expected a failure");
  };

  /** An error's every field but the request's own id, and its classification. */
  function errorFacts(err: Record<string, unknown>) {
    const headers = (err.headers ?? {}) as Record<string, string>;
    return {
      class: (err as object).constructor.name,
      message: err.message,
      statusCode: err.statusCode,
      type: err.type,
      providerError: err.providerError,
      timeout: err.timeout,
      url: err.url,
      hasRequestId: typeof err.requestId === "string",
      retryAfter: headers["retry-after"],
      headerNames: Object.keys(headers).sort(),
      failure: { ...classifyError(err), requestId: undefined },
    };
  }

  const validGrants = () => sandbox.grantIds().filter((id) => sandbox.grant(id).grant_status === "valid");
  const calendarOf = (id: string) =>
    calendarAccess(sandbox.grant(id).provider) === "primary" ? "primary" : sandbox.events(id)[0]?.event.calendar_id;

  it("reads the same events, key for key, for every provider with a calendar", async () => {
    const providers = new Set<string>();
    let compared = 0;
    for (const id of validGrants()) {
      const calendarId = calendarOf(id);
      if (calendarAccess(sandbox.grant(id).provider) === "none" || calendarId === undefined) continue;
      const zone = sandbox.grantZone(id);
      const day = localDate(zone, now);
      const window = { start: localDayWindow(zone, day).start, end: localDayWindow(zone, addDays(day, 2)).end };
      for (const limit of [200, 2]) {
        const query = { calendarId, ...window, limit, expandRecurring: true, showCancelled: true };
        const sdkList = () =>
          api.sdk.events.list({
            identifier: id,
            queryParams: { ...query, start: String(window.start), end: String(window.end) },
          });
        const sdk = await sdkList();
        const lean = await api.eventsPage(id, query);
        expect(lean.items).toStrictEqual(sdk.data);
        expect(lean.nextCursor).toBe(sdk.nextCursor || undefined);
        compared += lean.items.length;
        const sdkWire = await wire(sdkList);
        expect(await wire(() => api.eventsPage(id, query))).toStrictEqual(sdkWire);
      }
      providers.add(sandbox.grant(id).provider);
    }
    expect(compared).toBeGreaterThan(50);
    const seeded = new Set(validGrants().map((id) => sandbox.grant(id).provider));
    const withCalendars = [...seeded].filter((p) => calendarAccess(p) !== "none");
    expect([...providers].sort()).toEqual(withCalendars.sort());
    expect(providers.size).toBeGreaterThanOrEqual(3);
  });

  it("sends the same request as the SDK: Nylas answers the second as a replay of the first", async () => {
    const id = validGrants().find((g) => sandbox.grant(g).provider === "google")!;
    const message: OutgoingMessage = {
      to: [{ email: "guest@example.com", name: "Guest Ünïcode" }, { email: "b@example.com" }],
      subject: 'Reminder: "planning" <tomorrow>',
      body: "<p>See you \u2013 tomorrow</p>",
      customHeaders: [{ name: "X-Reminder-Id", value: "m-1" }],
    };
    const key = `lean-${Date.now()}`;
    const sdkAnswer = await api.sdk.messages.send({
      identifier: id,
      requestBody: {
        to: message.to,
        subject: message.subject,
        body: message.body,
        customHeaders: message.customHeaders,
      },
      overrides: { headers: { "Idempotency-Key": key } },
    });
    const lean = await api.send(id, message, key);
    expect(lean).toEqual({ id: sdkAnswer.data.id, replayed: true });
    expect(sandbox.sentMessages({ grantId: id }).filter((m) => m.messageId === lean.id)).toHaveLength(1);

    const plain = { ...message, isPlaintext: true, customHeaders: [] };
    const sdkWire = await wire(() =>
      api.sdk.messages.send({
        identifier: id,
        requestBody: { to: plain.to, subject: plain.subject, body: plain.body, isPlaintext: true },
      }),
    );
    expect(await wire(() => api.send(id, plain))).toStrictEqual(sdkWire);
  });

  it("fails as the SDK fails: refusals, limits, server errors, timeouts", async () => {
    const id = validGrants().find((g) => sandbox.grant(g).provider === "microsoft")!;
    const invalid = sandbox.grantIds().find((g) => sandbox.grant(g).grant_status === "invalid")!;
    const window = { start: 0, end: 10 };
    const events = (grant: string, limit = 200) => ({
      sdk: () =>
        api.sdk.events.list({
          identifier: grant,
          queryParams: { calendarId: "primary", start: "0", end: "10", limit, expandRecurring: true },
        }),
      lean: () => api.eventsPage(grant, { calendarId: "primary", ...window, limit }),
    });
    const send = (grant: string, to: OutgoingMessage["to"]) => ({
      sdk: () => api.sdk.messages.send({ identifier: grant, requestBody: { to, subject: "s", body: "b" } }),
      lean: () => api.send(grant, { to, subject: "s", body: "b" }),
    });
    const ok = [{ email: "a@example.com" }];
    const cases: {
      name: string;
      call: { sdk: () => Promise<unknown>; lean: () => Promise<unknown> };
      arm?: () => void;
    }[] = [
      { name: "invalid grant, events", call: events(invalid) },
      { name: "invalid grant, send", call: send(invalid, ok) },
      { name: "page too large", call: events(id, 201) },
      { name: "no recipient", call: send(id, []) },
      {
        name: "429, events",
        call: events(id),
        arm: () => sandbox.injectFault({ kind: 429, routeClass: "events", retryAfterS: 7 }),
      },
      {
        name: "429, send",
        call: send(id, ok),
        arm: () => sandbox.injectFault({ kind: 429, routeClass: "send", retryAfterS: 3 }),
      },
      { name: "503, send", call: send(id, ok), arm: () => sandbox.injectFault({ kind: 503, routeClass: "send" }) },
      { name: "500, events", call: events(id), arm: () => sandbox.injectFault({ kind: 500, routeClass: "events" }) },
      {
        name: "dropped, events",
        call: events(id),
        arm: () => sandbox.injectFault({ kind: "drop", routeClass: "events" }),
      },
      { name: "timeout, events", call: events(id), arm: () => sandbox.setLatency({ ms: 2500 }) },
    ];
    for (const c of cases) {
      c.arm?.();
      const sdkError = errorFacts(await caught(c.call.sdk()));
      c.arm?.();
      const leanError = errorFacts(await caught(c.call.lean()));
      expect(leanError, c.name).toStrictEqual(sdkError);
      sandbox.setLatency({ ms: 0 });
    }
  });
});
