import NylasImport, { NylasApiError, NylasSdkTimeoutError } from "nylas";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../src/index.js";
import type { RouteName } from "../src/log.js";
import { addDays, localDate, startOfLocalDay } from "../src/tz.js";

// Node loads the SDK's ESM build (default export = the class) while TypeScript under NodeNext
// reads its typings as CommonJS (class under `.default`): bridge the two.
type NylasClass = typeof NylasImport.default;
const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);
type Nylas = InstanceType<NylasClass>;

const NOW = Date.parse("2025-11-01T22:00:00Z");
let sb: Sandbox;
let nylas: Nylas;

async function apiError(p: Promise<unknown>): Promise<NylasApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NylasApiError);
    return err as NylasApiError;
  }
  throw new Error("expected the call to fail");
}

/** A fresh valid grant with a zone, for tests that add their own events. */
function freshGrant(zone = "UTC", provider: "google" | "microsoft" = "google"): string {
  return sb.addGrant({ email: `t${Math.random().toString(36).slice(2, 10)}@fresh.test`, timezone: zone, provider }).id;
}

const ts = (iso: string) => Date.parse(iso) / 1000;

beforeAll(async () => {
  sb = await startSandbox({ seed: { grants: 12, seed: 1, now: NOW } });
  nylas = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url, timeout: 10 });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => {
  sb.clearFaults();
  sb.setLatency({ ms: 0 });
  sb.setLimits({ requestsPerSecond: 200, sendsPerSecond: { google: 2, microsoft: 4 } });
});

describe("auth and grants", () => {
  it("rejects a missing or wrong API key with 401 in Nylas' shape, with a request id", async () => {
    const bad = new Nylas({ apiKey: "nope", apiUri: sb.url });
    const e = await apiError(bad.grants.list());
    expect(e.statusCode).toBe(401);
    expect(e.type).toBe("unauthorized");
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const res = await fetch(`${sb.url}/v3/grants`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { request_id: string; error: { type: string; message: string } };
    expect(body.error.type).toBe("unauthorized");
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
  });

  it("lists grants with limit/offset and finds one; unknown routes and grants are 404", async () => {
    const page = await nylas.grants.list({ queryParams: { limit: 5, offset: 0 } });
    expect(page.data).toHaveLength(5);
    const all = await nylas.grants.list({ queryParams: { limit: 50 } });
    expect(all.data).toHaveLength(12);
    const second = await nylas.grants.list({ queryParams: { limit: 5, offset: 5 } });
    expect(second.data.map((g) => g.id)).toEqual(all.data.slice(5, 10).map((g) => g.id));
    const dflt = await fetch(`${sb.url}/v3/grants`, { headers: { authorization: `Bearer ${sb.apiKey}` } });
    expect(((await dflt.json()) as { data: unknown[] }).data).toHaveLength(10);
    const invalid = await nylas.grants.list({ queryParams: { grantStatus: "invalid" } as never });
    expect(invalid.data.length).toBeGreaterThan(0);
    expect(invalid.data.every((g) => g.grantStatus === "invalid")).toBe(true);
    const one = await nylas.grants.find({ grantId: all.data[0]!.id });
    expect(one.data.email).toBe(all.data[0]!.email);
    expect(["google", "microsoft", "imap", "icloud"]).toContain(one.data.provider);
    const e = await apiError(nylas.grants.find({ grantId: "no-such-grant" }));
    expect(e.statusCode).toBe(404);
    expect(e.type).toBe("not_found_error");
    const r = await fetch(`${sb.url}/v3/nope`, { headers: { authorization: `Bearer ${sb.apiKey}` } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
  });

  it("answers 401 on every data endpoint of an invalid grant, and serves it again once restored", async () => {
    const id = freshGrant();
    sb.invalidateGrant(id);
    const calls: Promise<unknown>[] = [
      nylas.calendars.find({ identifier: id, calendarId: "primary" }),
      nylas.calendars.list({ identifier: id }),
      nylas.events.list({ identifier: id, queryParams: { calendarId: "primary" } }),
      nylas.messages.list({ identifier: id }),
      nylas.messages.send({ identifier: id, requestBody: { to: [{ email: "a@b.test" }], subject: "s", body: "b" } }),
    ];
    for (const c of calls) {
      const e = await apiError(c);
      expect(e.statusCode).toBe(401);
      expect(e.type).toBe("unauthorized");
      expect(e.message).toMatch(/grant/i);
    }
    expect((await nylas.grants.find({ grantId: id })).data.grantStatus).toBe("invalid");
    sb.restoreGrant(id);
    const cal = await nylas.calendars.find({ identifier: id, calendarId: "primary" });
    expect(cal.data.timezone).toBe("UTC");
  });

  it("answers GET /v3/grants/{id} with grant_status as the spec names it, and 404 for an unknown grant", async () => {
    const id = freshGrant();
    const read = async () => {
      const res = await fetch(`${sb.url}/v3/grants/${id}`, { headers: { authorization: `Bearer ${sb.apiKey}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { id: string; grant_status: string } }).data;
    };
    expect(await read()).toMatchObject({ id, grant_status: "valid" });
    sb.invalidateGrant(id);
    expect(await read()).toMatchObject({ id, grant_status: "invalid" });
    sb.restoreGrant(id);
    const e = await apiError(nylas.grants.find({ grantId: "00000000-0000-4000-8000-000000000000" }));
    expect(e.statusCode).toBe(404);
  });

  it("switches the accepted API key at runtime (POST /_sandbox/api-key): any other key gets 401 on every route", async () => {
    const id = freshGrant();
    const oldKey = sb.apiKey;
    const setKey = (apiKey: unknown) =>
      fetch(`${sb.url}/_sandbox/api-key`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ api_key: apiKey }),
      });
    expect((await setKey("")).status).toBe(400);
    expect((await setKey(42)).status).toBe(400);
    const set = await setKey("nyk_rotated_key");
    expect(set.status).toBe(200);
    expect(await set.text()).not.toContain("nyk_rotated_key");
    try {
      const calls: Promise<unknown>[] = [
        nylas.grants.list(),
        nylas.grants.find({ grantId: id }),
        nylas.calendars.find({ identifier: id, calendarId: "primary" }),
        nylas.events.list({ identifier: id, queryParams: { calendarId: "primary" } }),
        nylas.messages.list({ identifier: id }),
        nylas.messages.send({ identifier: id, requestBody: { to: [{ email: "a@b.test" }], subject: "s", body: "b" } }),
      ];
      for (const c of calls) {
        const e = await apiError(c);
        expect(e.statusCode).toBe(401);
        expect(e.type).toBe("unauthorized");
        expect(e.message).toMatch(/API key/);
      }
      const rotated = new Nylas({ apiKey: "nyk_rotated_key", apiUri: sb.url, timeout: 10 });
      expect((await rotated.grants.find({ grantId: id })).data.grantStatus).toBe("valid");
      // A grant invalid under the right key still says so: the two 401s stay apart.
      sb.invalidateGrant(id);
      expect((await rotated.grants.find({ grantId: id })).data.grantStatus).toBe("invalid");
      expect(
        (await apiError(rotated.events.list({ identifier: id, queryParams: { calendarId: "primary" } }))).message,
      ).toMatch(/grant/i);
    } finally {
      sb.setApiKey(oldKey);
    }
    expect((await nylas.grants.find({ grantId: id })).data.id).toBe(id);
  });

  it("serves the primary calendar's zone for Google, and none for a seeded Microsoft grant", async () => {
    const ids = sb.grantIds();
    const ny = await nylas.calendars.find({ identifier: ids[0]!, calendarId: "primary" });
    expect(ny.data.timezone).toBe("America/New_York");
    expect(ny.data.isPrimary).toBe(true);
    expect(sb.grant(ids[1]!).provider).toBe("microsoft");
    const none = await nylas.calendars.find({ identifier: ids[1]!, calendarId: "primary" });
    expect(none.data.timezone).toBeUndefined();
    expect(none.data.isPrimary).toBe(true);
    const e = await apiError(nylas.calendars.find({ identifier: ids[0]!, calendarId: "missing" }));
    expect(e.statusCode).toBe(404);
  });
});

describe("events", () => {
  it("requires calendar_id and caps limit at 200", async () => {
    const id = sb.grantIds()[0]!;
    const e = await apiError(nylas.events.list({ identifier: id, queryParams: {} as never }));
    expect(e.statusCode).toBe(400);
    expect(e.type).toBe("invalid_request_error");
    expect(e.message).toMatch(/calendar_id/);
    const e2 = await apiError(
      nylas.events.list({ identifier: id, queryParams: { calendarId: "primary", limit: 201 } }),
    );
    expect(e2.statusCode).toBe(400);
    expect(e2.message).toMatch(/limit/);
    const e3 = await apiError(
      nylas.events.list({ identifier: id, queryParams: { calendarId: "primary", start: "200", end: "100" } }),
    );
    expect(e3.statusCode).toBe(400);
  });

  it("returns events that overlap [start, end), including the previous evening's late call", async () => {
    const id = sb.grantIds()[0]!; // America/New_York
    const day = "2025-11-02";
    const ws = startOfLocalDay("America/New_York", day) / 1000;
    const we = startOfLocalDay("America/New_York", addDays(day, 1)) / 1000;
    expect(we - ws).toBe(25 * 3600);
    const res = await nylas.events.list({
      identifier: id,
      queryParams: { calendarId: "primary", start: String(ws), end: String(we), limit: 200, expandRecurring: true },
    });
    expect(res.nextCursor).toBeUndefined();
    const late = res.data.filter((e) => e.title?.startsWith("Late call"));
    expect(late).toHaveLength(2); // Nov 1 23:00 (overlaps) and Nov 2 23:00
    const starts = late.map((e) => (e.when as { startTime: number }).startTime).sort();
    expect(starts[0]).toBe(ts("2025-11-02T03:00:00Z"));
    expect(starts[0]!).toBeLessThan(ws);
    // The seed's verdict for the day excludes the overlapping one (it starts on Nov 1).
    const expected = sb.expectedReminders({ grantIds: [id], day });
    expect(expected.filter((r) => r.title.startsWith("Late call")).map((r) => r.start)).toEqual([
      ts("2025-11-03T04:00:00Z"),
    ]);
    // Every expected reminder is among the API's events.
    const apiIds = new Set(res.data.map((e) => e.id));
    for (const r of expected) expect(apiIds.has(r.eventId), r.title).toBe(true);
    // Sorted by start.
    const s = res.data
      .map((e) => {
        const w = e.when as unknown as Record<string, unknown>;
        return (w.startTime ?? w.time ?? 0) as number;
      })
      .filter((x) => x > 0);
    expect([...s].sort((a, b) => a - b)).toEqual(s);
  });

  it("applies the exact boundaries: end == start excluded, start == end excluded, a point at start included", async () => {
    const id = freshGrant("UTC");
    const ws = ts("2025-06-10T00:00:00Z");
    const we = ts("2025-06-11T00:00:00Z");
    sb.addEvent(id, { id: "ends-at-start", when: { object: "timespan", start_time: ws - 3600, end_time: ws } });
    sb.addEvent(id, { id: "starts-at-end", when: { object: "timespan", start_time: we, end_time: we + 3600 } });
    sb.addEvent(id, { id: "point-at-start", when: { object: "time", time: ws } });
    sb.addEvent(id, { id: "inside", when: { object: "timespan", start_time: ws + 60, end_time: ws + 120 } });
    sb.addEvent(id, { id: "long", when: { object: "timespan", start_time: ws - 5 * 86_400, end_time: ws + 1 } });
    const res = await nylas.events.list({
      identifier: id,
      queryParams: { calendarId: "primary", start: String(ws), end: String(we) },
    });
    expect(res.data.map((e) => e.id).sort()).toEqual(["inside", "long", "point-at-start"]);
  });

  it("returns all four when shapes, reading all-day shapes in the calendar zone", async () => {
    const id = freshGrant("Asia/Tokyo");
    sb.addEvent(id, { id: "d", when: { object: "date", date: "2025-06-10" } });
    sb.addEvent(id, { id: "ds", when: { object: "datespan", start_date: "2025-06-10", end_date: "2025-06-11" } });
    sb.addEvent(id, { id: "t", when: { object: "time", time: ts("2025-06-10T01:00:00Z"), timezone: "Asia/Tokyo" } });
    sb.addEvent(id, {
      id: "ts",
      when: {
        object: "timespan",
        start_time: ts("2025-06-10T01:00:00Z"),
        end_time: ts("2025-06-10T02:00:00Z"),
        start_timezone: "Asia/Tokyo",
        end_timezone: "Asia/Tokyo",
      },
    });
    const res = await nylas.events.list({
      identifier: id,
      queryParams: {
        calendarId: "primary",
        start: String(ts("2025-06-09T15:00:00Z")),
        end: String(ts("2025-06-09T15:30:00Z")),
      },
    });
    // 00:00–00:30 Tokyo on June 10: only the all-day ones.
    expect(res.data.map((e) => e.id).sort()).toEqual(["d", "ds"]);
    const all = await nylas.events.list({
      identifier: id,
      queryParams: {
        calendarId: "primary",
        start: String(ts("2025-06-09T00:00:00Z")),
        end: String(ts("2025-06-12T00:00:00Z")),
      },
    });
    const shapes = Object.fromEntries(all.data.map((e) => [e.id, e.when]));
    expect(shapes.d).toMatchObject({ object: "date", date: "2025-06-10" });
    expect(shapes.ds).toMatchObject({ object: "datespan", startDate: "2025-06-10", endDate: "2025-06-11" });
    expect(shapes.t).toMatchObject({ object: "time", time: ts("2025-06-10T01:00:00Z"), timezone: "Asia/Tokyo" });
    expect(shapes.ts).toMatchObject({
      object: "timespan",
      startTime: ts("2025-06-10T01:00:00Z"),
      endTime: ts("2025-06-10T02:00:00Z"),
      startTimezone: "Asia/Tokyo",
    });
    // The wire itself is snake_case.
    const raw = await fetch(
      `${sb.url}/v3/grants/${id}/events?calendar_id=primary&start=${ts("2025-06-09T00:00:00Z")}&end=${ts("2025-06-12T00:00:00Z")}`,
      { headers: { authorization: `Bearer ${sb.apiKey}` } },
    );
    const text = await raw.text();
    expect(text).toContain('"start_time"');
    expect(text).toContain('"start_date"');
    expect(text).not.toContain("expected");
  });

  it("pages 450 events in pages of 200 with next_cursor absent on the last page", async () => {
    const id = freshGrant("UTC");
    const base = ts("2025-07-01T00:00:00Z");
    for (let i = 0; i < 450; i++)
      sb.addEvent(id, {
        id: `p${String(i).padStart(3, "0")}`,
        when: { object: "timespan", start_time: base + i * 60, end_time: base + i * 60 + 30 },
      });
    const q = { calendarId: "primary", start: String(base), end: String(base + 86_400), limit: 200 };
    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const page of nylas.events.list({ identifier: id, queryParams: q })) {
      sizes.push(page.data.length);
      seen.push(...page.data.map((e) => e.id));
    }
    expect(sizes).toEqual([200, 200, 50]);
    expect(new Set(seen).size).toBe(450);
    expect(seen).toEqual([...seen].sort());
    const first = (await (
      await fetch(`${sb.url}/v3/grants/${id}/events?calendar_id=primary&start=${base}&end=${base + 86_400}`, {
        headers: { authorization: `Bearer ${sb.apiKey}` },
      })
    ).json()) as { data: unknown[]; next_cursor?: string };
    expect(first.data).toHaveLength(50); // default page size
    expect(typeof first.next_cursor).toBe("string");
    // Raw wire: three pages of 200/200/50, the last one without next_cursor at all.
    const raw: { data: unknown[]; next_cursor?: string }[] = [];
    let token: string | undefined;
    do {
      const url = `${sb.url}/v3/grants/${id}/events?calendar_id=primary&start=${base}&end=${base + 86_400}&limit=200${token ? `&page_token=${token}` : ""}`;
      const page = (await (await fetch(url, { headers: { authorization: `Bearer ${sb.apiKey}` } })).json()) as {
        data: unknown[];
        next_cursor?: string;
      };
      raw.push(page);
      token = page.next_cursor;
    } while (token);
    expect(raw.map((p) => p.data.length)).toEqual([200, 200, 50]);
    expect("next_cursor" in raw[2]!).toBe(false);
    // The SDK turns `pageToken: undefined` into the string "undefined": the sandbox rejects it like any bad token.
    const bad = await apiError(nylas.events.list({ identifier: id, queryParams: { ...q, pageToken: "garbage!" } }));
    expect(bad.statusCode).toBe(400);
  });

  it("keeps paging stable while events are added, moved and deleted between pages", async () => {
    const id = freshGrant("UTC");
    const base = ts("2025-08-01T09:00:00Z");
    for (let i = 0; i < 10; i++)
      sb.addEvent(id, {
        id: `s${i}`,
        when: { object: "timespan", start_time: base + i * 3600, end_time: base + i * 3600 + 1800 },
      });
    const q = { calendarId: "primary", start: String(base - 3600), end: String(base + 86_400), limit: 4 };
    const p1 = await nylas.events.list({ identifier: id, queryParams: q });
    expect(p1.data.map((e) => e.id)).toEqual(["s0", "s1", "s2", "s3"]);
    // Between pages: a new event before the cursor, one deleted after it, one moved from after to before.
    sb.addEvent(id, { id: "early", when: { object: "timespan", start_time: base - 1800, end_time: base - 900 } });
    sb.deleteEvent(id, "s5");
    sb.moveEvent(id, "s8", base + 600);
    const rest: string[] = [];
    let token = p1.nextCursor;
    while (token) {
      const p = await nylas.events.list({ identifier: id, queryParams: { ...q, pageToken: token } });
      rest.push(...p.data.map((e) => e.id));
      token = p.nextCursor;
    }
    // No duplicates, nothing not-yet-seen skipped (an offset cursor would skip s4 after "early" was inserted).
    expect(rest).toEqual(["s4", "s6", "s7", "s9"]);
  });

  it("expands recurring masters only with expand_recurring, and hides cancelled events unless asked", async () => {
    const id = freshGrant("Europe/London");
    const start = ts("2025-10-24T08:00:00Z"); // 09:00 BST, a Friday
    sb.addEvent(id, {
      id: "rec",
      when: {
        object: "timespan",
        start_time: start,
        end_time: start + 1800,
        start_timezone: "Europe/London",
        end_timezone: "Europe/London",
      },
      recurrence: ["RRULE:FREQ=DAILY;COUNT=5"],
    });
    sb.addEvent(id, {
      id: "gone",
      status: "cancelled",
      when: { object: "timespan", start_time: start + 7200, end_time: start + 9000 },
    });
    const q = {
      calendarId: "primary",
      start: String(ts("2025-10-24T00:00:00Z")),
      end: String(ts("2025-11-01T00:00:00Z")),
    };
    const masters = await nylas.events.list({ identifier: id, queryParams: q });
    expect(masters.data.map((e) => e.id)).toEqual(["rec"]);
    expect(masters.data[0]!.recurrence).toEqual(["RRULE:FREQ=DAILY;COUNT=5"]);
    const occ = await nylas.events.list({ identifier: id, queryParams: { ...q, expandRecurring: true } });
    expect(occ.data).toHaveLength(5);
    expect(occ.data.every((e) => e.masterEventId === "rec" && e.id.startsWith("rec_"))).toBe(true);
    // 09:00 local every day: after the UK leaves BST on Oct 26 that is 09:00Z.
    expect(
      occ.data.map((e) => new Date((e.when as { startTime: number }).startTime * 1000).toISOString().slice(11, 16)),
    ).toEqual(["08:00", "08:00", "09:00", "09:00", "09:00"]);
    const withCancelled = await nylas.events.list({ identifier: id, queryParams: { ...q, showCancelled: true } });
    expect(withCancelled.data.map((e) => e.id).sort()).toEqual(["gone", "rec"]);
    expect(withCancelled.data.find((e) => e.id === "gone")!.status).toBe("cancelled");
  });
});

describe("messages", () => {
  it("validates send bodies like Nylas", async () => {
    const id = freshGrant();
    const bad: unknown[] = [
      { subject: "no to", body: "x" },
      { to: [], subject: "empty", body: "x" },
      { to: "a@b.test", subject: "not array", body: "x" },
      { to: [{ email: "not-an-email" }], subject: "s", body: "x" },
      { to: [{ name: "n" }], subject: "s", body: "x" },
      { to: [{ email: "a@b.test" }], subject: 5, body: "x" },
      { to: [{ email: "a@b.test" }], subject: "s", body: { html: 1 } },
      { to: [{ email: "a@b.test" }], subject: "s", body: "x", customHeaders: "X-A: 1" },
      { to: [{ email: "a@b.test" }], subject: "s", body: "x", customHeaders: [{ name: "Bad Name", value: "v" }] },
      { to: [{ email: "a@b.test" }], subject: "s", body: "x", customHeaders: [{ name: "X-Ok" }] },
    ];
    for (const requestBody of bad) {
      const e = await apiError(nylas.messages.send({ identifier: id, requestBody: requestBody as never }));
      expect(e.statusCode, JSON.stringify(requestBody)).toBe(400);
      expect(e.type).toBe("invalid_request_error");
    }
    const res = await fetch(`${sb.url}/v3/grants/${id}/messages/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(sb.sentMessages({ grantId: id })).toEqual([]);
  });

  it("stores a sent message in SENT and lists it newest first with headers on request", async () => {
    const id = freshGrant();
    const email = sb.grant(id).email;
    const sentAfter = Math.floor(Date.now() / 1000);
    const sent = await nylas.messages.send({
      identifier: id,
      requestBody: {
        to: [{ name: "Ann", email: "ann@x.test" }, { email: "bob@x.test" }],
        subject: "Reminder: sync",
        body: "<p>See you</p>",
        customHeaders: [{ name: "X-Reminder-Id", value: "mk-1" }],
      },
    });
    const sentBefore = Math.ceil(Date.now() / 1000);
    expect(sent.data.folders).toEqual(["SENT"]);
    expect(sent.data.from).toEqual([{ email }]);
    expect(sent.data.id).toBeTruthy();
    expect(sent.data.threadId).toBeTruthy();
    // Dated when it was sent: between the call and its answer, however long that took.
    expect(sent.data.date).toBeGreaterThanOrEqual(sentAfter);
    expect(sent.data.date).toBeLessThanOrEqual(sentBefore);
    await nylas.messages.send({
      identifier: id,
      requestBody: {
        to: [{ email: "cy@x.test" }],
        subject: "second",
        body: "b",
        customHeaders: [{ name: "X-Reminder-Id", value: "mk-2" }],
      },
    });
    const list = await nylas.messages.list({
      identifier: id,
      queryParams: {
        in: ["SENT"],
        fields: "include_headers" as never,
        receivedAfter: Math.floor(Date.now() / 1000) - 60,
      },
    });
    expect(list.data.map((m) => m.subject)).toEqual(["second", "Reminder: sync"]);
    const marker = list.data[1]!.headers!.find((h) => h.name === "X-Reminder-Id");
    expect(marker?.value).toBe("mk-1");
    const noHeaders = await nylas.messages.list({ identifier: id, queryParams: { in: ["SENT"] } });
    expect(noHeaders.data[0]!.headers).toBeUndefined();
    const inbox = await nylas.messages.list({ identifier: id, queryParams: { in: ["INBOX"] } });
    expect(inbox.data).toEqual([]);
    const paged = await nylas.messages.list({ identifier: id, queryParams: { limit: 1 } });
    expect(paged.data).toHaveLength(1);
    const next = await nylas.messages.list({ identifier: id, queryParams: { limit: 1, pageToken: paged.nextCursor! } });
    expect(next.data[0]!.subject).toBe("Reminder: sync");
    expect(next.nextCursor).toBeUndefined();
    const log = sb.sentMessages({ grantId: id });
    expect(log.map((m) => [m.to, m.customHeaders])).toEqual([
      [["ann@x.test", "bob@x.test"], [{ name: "X-Reminder-Id", value: "mk-1" }]],
      [["cy@x.test"], [{ name: "X-Reminder-Id", value: "mk-2" }]],
    ]);
  });

  it("drops List-Unsubscribe(-Post) on Microsoft and iCloud, as the spec says; keeps them elsewhere", async () => {
    const headers = [
      { name: "X-Reminder-Id", value: "mk-u" },
      { name: "List-Unsubscribe", value: "<https://example.test/unsubscribe/t>" },
      { name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click" },
    ];
    const kept: Record<string, string[]> = {};
    for (const provider of ["google", "microsoft", "icloud", "yahoo"] as const) {
      const id = sb.addGrant({ email: `u-${provider}@fresh.test`, provider }).id;
      await nylas.messages.send({
        identifier: id,
        requestBody: { to: [{ email: "ann@x.test" }], subject: "s", body: "<p>b</p>", customHeaders: headers },
      });
      const [sent] = sb.sentMessages({ grantId: id });
      kept[provider] = sent!.customHeaders.map((h) => h.name);
      expect(sent!.body).toBe("<p>b</p>");
    }
    const all = headers.map((h) => h.name);
    expect(kept).toEqual({ google: all, microsoft: ["X-Reminder-Id"], icloud: ["X-Reminder-Id"], yahoo: all });
  });
});

describe("rate limits", () => {
  /**
   * `n` calls at once on a fresh grant, again (with another grant) until the sandbox's own log
   * shows it handled all of them inside one second: its limits count one-second windows, and on
   * a loaded machine a burst may straggle into the next one, which proves nothing either way.
   */
  async function burst<T>(fresh: () => string, n: number, route: RouteName, call: (id: string) => Promise<T>) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = fresh();
      const results = await Promise.allSettled(Array.from({ length: n }, () => call(id)));
      const log = sb.requestLog({ grantId: id, route });
      expect(log).toHaveLength(n);
      // Each request's limit was counted between its start (at - ms) and its end (at).
      const span = Math.max(...log.map((e) => e.at)) - Math.min(...log.map((e) => e.at - e.ms));
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
      if (span < 900) return { id, results, refused };
    }
    throw new Error(`five bursts of ${n} in a row took the sandbox over a second each`);
  }

  it("answers 429 nylas_rate_limit_exceeded over the per-grant budget, per grant only", async () => {
    sb.setLimits({ requestsPerSecond: 3 });
    const b = freshGrant();
    const q = { calendarId: "primary" };
    const list = (id: string) => nylas.events.list({ identifier: id, queryParams: q });
    const { id: a, refused } = await burst(freshGrant, 5, "events.list", list);
    const errors = refused as NylasApiError[];
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(NylasApiError);
    expect(errors[0]!.statusCode).toBe(429);
    expect(errors[0]!.type).toBe("nylas_rate_limit_exceeded");
    expect(errors[0]!.headers?.["retry-after"]).toBe("1");
    // Grant b is untouched by a's budget.
    await expect(nylas.events.list({ identifier: b, queryParams: q })).resolves.toBeDefined();
    const logged = sb.requestLog({ grantId: a, status: 429 });
    expect(logged.length).toBe(errors.length);
    expect(logged.every((e) => e.note === "nylas_rate_limit")).toBe(true);
    // At least a second later (a slow machine only makes it later), a's window is over.
    await new Promise((r) => setTimeout(r, 1050));
    await expect(nylas.events.list({ identifier: a, queryParams: q })).resolves.toBeDefined();
  });

  it("answers 429 rate_limit_error with a provider_error over the provider's send rate", async () => {
    const send = (id: string) =>
      nylas.messages.send({ identifier: id, requestBody: { to: [{ email: "x@y.test" }], subject: "s", body: "b" } });
    const sinceSeq = (sb.requestLog().at(-1)?.seq ?? -1) + 1;
    const before = sb.counters().rateLimitedProvider;
    // Gmail: 2 a second per grant.
    const g = await burst(() => freshGrant("UTC", "google"), 4, "messages.send", send);
    expect(g.results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const e = g.refused[0] as NylasApiError;
    expect(e.statusCode).toBe(429);
    expect(e.type).toBe("rate_limit_error");
    expect(e.providerError).toMatchObject({ code: 429 });
    expect(Number(e.headers?.["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(sb.sentMessages({ grantId: g.id })).toHaveLength(2);
    // Microsoft: 4 a second.
    const m = await burst(() => freshGrant("UTC", "microsoft"), 5, "messages.send", send);
    expect(m.results.filter((r) => r.status === "fulfilled")).toHaveLength(4);
    // The counter counts every provider refusal the log shows (straggling bursts included).
    const refusals = sb.requestLog({ sinceSeq, status: 429 }).filter((x) => x.note === "provider_rate_limit");
    expect(refusals.filter((x) => x.grantId === g.id || x.grantId === m.id)).toHaveLength(3);
    expect(sb.counters().rateLimitedProvider - before).toBe(refusals.length);
  });
});

describe("faults and latency", () => {
  it("injects 5xx for the next N matching requests, scoped to a grant and route class", async () => {
    const a = freshGrant();
    const b = freshGrant();
    sb.injectFault({ kind: 503, count: 2, grantId: a, routeClass: "events" });
    const q = { calendarId: "primary" };
    await expect(nylas.events.list({ identifier: b, queryParams: q })).resolves.toBeDefined();
    await expect(nylas.calendars.find({ identifier: a, calendarId: "primary" })).resolves.toBeDefined();
    for (let i = 0; i < 2; i++) {
      const e = await apiError(nylas.events.list({ identifier: a, queryParams: q }));
      expect(e.statusCode).toBe(503);
      expect(e.type).toBe("service_unavailable");
      expect(e.requestId).toBeTruthy();
    }
    await expect(nylas.events.list({ identifier: a, queryParams: q })).resolves.toBeDefined();
    sb.injectFault({ kind: 500 });
    expect((await apiError(nylas.grants.find({ grantId: a }))).statusCode).toBe(500);
    sb.injectFault({ kind: 502 });
    expect((await apiError(nylas.grants.find({ grantId: a }))).statusCode).toBe(502);
  });

  it("drops connections without a response, before or after doing the work", async () => {
    const id = freshGrant();
    sb.injectFault({ kind: "drop", routeClass: "events" });
    const err = await nylas.events.list({ identifier: id, queryParams: { calendarId: "primary" } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("fetch failed");
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toBe("UND_ERR_SOCKET");
    expect(err).not.toBeInstanceOf(NylasApiError);
    // drop_after: the mail goes out, the client never hears about it.
    sb.injectFault({ kind: "drop_after", routeClass: "send", grantId: id });
    const err2 = await nylas.messages
      .send({
        identifier: id,
        requestBody: {
          to: [{ email: "z@z.test" }],
          subject: "lost ack",
          body: "b",
          customHeaders: [{ name: "X-Reminder-Id", value: "lost-1" }],
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err2).toBeInstanceOf(TypeError);
    const found = await nylas.messages.list({
      identifier: id,
      queryParams: { in: ["SENT"], fields: "include_headers" as never },
    });
    expect(found.data.map((m) => m.headers?.find((h) => h.name === "X-Reminder-Id")?.value)).toEqual(["lost-1"]);
    const log = sb.requestLog({ grantId: id });
    expect(log.map((e) => e.note)).toContain("dropped_after");
    expect(log.find((e) => e.note === "dropped_after")!.status).toBe(0);
  });

  it("adds latency per route class, and the SDK times out on a slow server", async () => {
    const id = freshGrant();
    sb.setLatency({ ms: 0, perClass: { events: 250 } });
    const t = performance.now();
    await nylas.events.list({ identifier: id, queryParams: { calendarId: "primary" } });
    expect(performance.now() - t).toBeGreaterThanOrEqual(240);
    await nylas.calendars.find({ identifier: id, calendarId: "primary" });
    // Only the events class is slowed: judged by the sandbox's own handling time, which a
    // loaded CI machine does not stretch by a quarter of a second.
    const [cal] = sb.requestLog({ grantId: id, route: "calendars.find" });
    expect(cal!.ms).toBeLessThan(240);
    sb.setLatency({ ms: 1500 });
    const quick = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url, timeout: 1 });
    const err = await quick.grants.find({ grantId: id }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NylasSdkTimeoutError);
    const log = sb.requestLog({ grantId: id, route: "events.list" });
    expect(log.at(-1)!.ms).toBeGreaterThanOrEqual(240);
  });
});

describe("request log, control API and a curl-style smoke test", () => {
  it("never stores the API key and keeps compact records", async () => {
    const id = freshGrant();
    await nylas.events.list({ identifier: id, queryParams: { calendarId: "primary" } });
    const entries = sb.requestLog({ grantId: id });
    expect(entries.at(-1)).toMatchObject({
      method: "GET",
      route: "events.list",
      path: `/v3/grants/${id}/events`,
      grantId: id,
      status: 200,
    });
    const all = JSON.stringify(sb.requestLog());
    expect(all).not.toContain(sb.apiKey);
    expect(all.toLowerCase()).not.toContain("bearer");
  });

  it("drives everything through /_sandbox with clear 400s for bad input", async () => {
    const post = (p: string, body: unknown) =>
      fetch(`${sb.url}/_sandbox/${p}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const bad = await post("faults", { kind: 418 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/kind must be one of/);
    expect((await post("seed", { grants: -1 })).status).toBe(400);
    expect((await post("grants", { email: "nope" })).status).toBe(400);
    const g = (await (
      await post("grants", { email: "ctl@x.test", timezone: "Asia/Kolkata", provider: "microsoft" })
    ).json()) as { id: string };
    const ev = await post(`grants/${g.id}/events`, {
      title: "From control",
      when: { object: "timespan", start_time: 1_900_000_000, end_time: 1_900_001_800 },
      participants: [{ email: "p@x.test", status: "yes" }],
    });
    expect(ev.status).toBe(200);
    const evId = ((await ev.json()) as { id: string }).id;
    expect(
      (await post(`grants/${g.id}/events`, { when: { object: "timespan", start_time: 5, end_time: 1 } })).status,
    ).toBe(400);
    expect((await post(`grants/${g.id}/events/${evId}/move`, { start: 1_900_003_600 })).status).toBe(200);
    const r = await nylas.events.list({
      identifier: g.id,
      queryParams: { calendarId: "primary", start: "1899990000", end: "1900100000" },
    });
    expect((r.data[0]!.when as { startTime: number }).startTime).toBe(1_900_003_600);
    expect((await post(`grants/${g.id}/invalidate`, {})).status).toBe(200);
    expect(
      (await apiError(nylas.events.list({ identifier: g.id, queryParams: { calendarId: "primary" } }))).statusCode,
    ).toBe(401);
    const counters = (await (await fetch(`${sb.url}/_sandbox/counters`)).json()) as {
      requests: number;
      unauthorized: number;
    };
    expect(counters.unauthorized).toBeGreaterThan(0);
    const missing = await fetch(`${sb.url}/_sandbox/nothing`);
    expect(missing.status).toBe(404);
  });

  it("lists tomorrow's events for a seeded grant with plain fetch and the sandbox key", async () => {
    const id = sb.grantIds()[1]!; // Europe/London
    const zone = sb.grantZone(id);
    const tomorrow = addDays(localDate(zone, NOW), 1);
    const start = startOfLocalDay(zone, tomorrow) / 1000;
    const end = startOfLocalDay(zone, addDays(tomorrow, 1)) / 1000;
    const res = await fetch(
      `${sb.url}/v3/grants/${id}/events?calendar_id=primary&start=${start}&end=${end}&expand_recurring=true&limit=200`,
      {
        headers: { Authorization: "Bearer nyk_sandbox_key", Accept: "application/json" },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as {
      request_id: string;
      data: { id: string; object: string; grant_id: string; when: { object: string } }[];
      next_cursor?: string;
    };
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
    expect(body.next_cursor).toBeUndefined();
    expect(body.data.length).toBeGreaterThan(10);
    expect(body.data.every((e) => e.object === "event" && e.grant_id === id)).toBe(true);
    expect(new Set(body.data.map((e) => e.when.object))).toEqual(new Set(["timespan", "time", "date", "datespan"]));
    const want = sb.expectedReminders({ grantIds: [id], now: NOW }).map((r) => r.eventId);
    expect(want.length).toBeGreaterThan(5);
    const got = new Set(body.data.map((e) => e.id));
    expect(want.every((w) => got.has(w))).toBe(true);
  });
});
