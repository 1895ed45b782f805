import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startSandbox, type Provider, type Sandbox } from "../src/index.js";

let sb: Sandbox;

interface Answer {
  status: number;
  body: {
    data?: unknown;
    next_cursor?: string;
    error?: { type: string; message: string; provider_error?: unknown };
  };
  headers: Headers;
}

async function api(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${sb.url}/v3${path}`, {
    ...init,
    headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json", ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as Answer["body"], headers: res.headers };
}

const list = <T>(a: Answer) => a.body.data as T[];

let n = 0;
function grant(provider: Provider, timezone: string | null = "Europe/Berlin"): string {
  return sb.addGrant({ email: `p${n++}.${provider}@providers.test`, provider, timezone }).id;
}

async function send(id: string, subject: string, marker: string): Promise<Answer> {
  return api(`/grants/${id}/messages/send`, {
    method: "POST",
    body: JSON.stringify({
      to: [{ email: "guest@x.test" }],
      subject,
      body: "b",
      custom_headers: [{ name: "X-Reminder-Id", value: marker }],
    }),
  });
}

interface Folder {
  id: string;
  name: string;
  attributes: string[];
  system_folder?: boolean;
  parent_id?: string;
  child_count?: number;
  total_count: number;
}
interface Calendar {
  id: string;
  is_primary: boolean;
  is_owned_by_user: boolean;
  read_only: boolean;
  timezone?: string;
  name: string;
}
interface Message {
  id: string;
  subject: string;
  folders: string[];
  headers?: { name: string; value: string }[];
}

async function sentFolder(id: string): Promise<Folder> {
  const folders = list<Folder>(await api(`/grants/${id}/folders`));
  const sent = folders.filter((f) => f.attributes.includes("\\Sent"));
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(async () => {
  await sb.close();
});

describe("calendars per provider", () => {
  it("shows a calendar's timezone for Google and virtual calendars only", async () => {
    const shown: Record<string, string | undefined> = {};
    for (const p of ["google", "virtual-calendar", "microsoft", "ews", "yahoo"] as const) {
      const id = grant(p);
      const a = await api(`/grants/${id}/calendars/primary`);
      expect(a.status, p).toBe(200);
      const cal = a.body.data as Calendar;
      expect(cal.is_primary, p).toBe(true);
      shown[p] = cal.timezone;
      // The list says the same as the single calendar.
      const all = list<Calendar>(await api(`/grants/${id}/calendars`));
      expect(all.find((c) => c.id === cal.id)?.timezone, p).toBe(cal.timezone);
      // The user's true zone is kept apart from what the calendar shows.
      expect(sb.grantZone(id)).toBe("Europe/Berlin");
    }
    expect(shown).toEqual({
      google: "Europe/Berlin",
      "virtual-calendar": "Europe/Berlin",
      microsoft: undefined,
      ews: undefined,
      yahoo: undefined,
    });
  });

  it("gives Microsoft calendars Graph-like opaque ids", async () => {
    const id = grant("microsoft");
    const cal = (await api(`/grants/${id}/calendars/primary`)).body.data as Calendar;
    expect(cal.id).toMatch(/^AAMkA[A-Za-z0-9_-]+AAA=$/);
    expect((await api(`/grants/${id}/calendars/${encodeURIComponent(cal.id)}`)).status).toBe(200);
  });

  it("has no primary calendar on iCloud: 404 for calendars/primary and events?calendar_id=primary", async () => {
    const id = grant("icloud");
    const primary = await api(`/grants/${id}/calendars/primary`);
    expect(primary.status).toBe(404);
    expect(primary.body.error!.type).toBe("not_found_error");
    const events = await api(`/grants/${id}/events?calendar_id=primary`);
    expect(events.status).toBe(404);
    expect(events.body.error!.type).toBe("not_found_error");
    const one = await api(`/grants/${id}/events/x?calendar_id=primary`);
    expect(one.status).toBe(404);
    // Its calendars come from the list: the user's own writable one holds the events.
    const cals = list<Calendar>(await api(`/grants/${id}/calendars`));
    expect(cals.length).toBeGreaterThanOrEqual(2);
    expect(cals.every((c) => c.id !== "primary" && c.is_primary === false && c.timezone === undefined)).toBe(true);
    const own = cals.filter((c) => c.is_owned_by_user && !c.read_only);
    expect(own).toHaveLength(1);
    const start = Math.floor(Date.now() / 1000) + 3600;
    sb.addEvent(id, {
      title: "iCloud meeting",
      when: { start_time: start, end_time: start + 1800, start_timezone: "Europe/Berlin" },
    });
    const found = await api(
      `/grants/${id}/events?calendar_id=${encodeURIComponent(own[0]!.id)}&start=${start - 60}&end=${start + 60}`,
    );
    expect(found.status).toBe(200);
    expect(list<{ title: string }>(found).map((e) => e.title)).toEqual(["iCloud meeting"]);
  });

  it("refuses iCloud event queries longer than six months with the spec's message", async () => {
    const id = grant("icloud");
    const cal = list<Calendar>(await api(`/grants/${id}/calendars`)).find((c) => c.is_owned_by_user)!;
    const q = (start: string, end: string) =>
      api(
        `/grants/${id}/events?calendar_id=${encodeURIComponent(cal.id)}&start=${Date.parse(start) / 1000}&end=${Date.parse(end) / 1000}`,
      );
    const six = await q("2026-01-15T00:00:00Z", "2026-07-15T00:00:00Z");
    expect(six.status).toBe(200);
    const over = await q("2026-01-15T00:00:00Z", "2026-07-15T00:00:01Z");
    expect(over.status).toBe(400);
    expect(over.body.error).toEqual({
      type: "invalid_request_error",
      message: "The maximum time range for iCloud event queries is 6 months.",
    });
    // Other providers take the same range.
    const g = grant("google");
    const long = await api(
      `/grants/${g}/events?calendar_id=primary&start=${Date.parse("2026-01-15T00:00:00Z") / 1000}&end=${Date.parse("2027-01-15T00:00:00Z") / 1000}`,
    );
    expect(long.status).toBe(200);
  });

  it("keeps a shared iCalendar UID, hidden guest lists and private visibility, except on iCloud", async () => {
    const start = Math.floor(Date.now() / 1000) + 7200;
    const input = {
      title: "Board",
      when: { start_time: start, end_time: start + 1800 },
      ical_uid: "shared-board@corp.test",
      hide_participants: true,
      visibility: "private" as const,
    };
    const g = grant("microsoft");
    sb.addEvent(g, input);
    const got = list<Record<string, unknown>>(
      await api(`/grants/${g}/events?calendar_id=primary&start=${start - 60}&end=${start + 60}`),
    );
    expect(got.map((e) => [e.ical_uid, e.hide_participants, e.visibility])).toEqual([
      ["shared-board@corp.test", true, "private"],
    ]);
    const i = grant("icloud");
    const ev = sb.addEvent(i, input);
    expect([ev.ical_uid, ev.hide_participants, ev.visibility]).toEqual([
      "shared-board@corp.test",
      undefined,
      undefined,
    ]);
    expect(() => sb.addEvent(g, { ...input, visibility: "secret" as never })).toThrow(/visibility/);
  });

  it("answers 400 on every calendar route of an IMAP grant", async () => {
    const id = grant("imap");
    for (const path of ["/calendars", "/calendars/primary", "/events?calendar_id=primary", "/events/x?calendar_id=a"]) {
      const a = await api(`/grants/${id}${path}`);
      expect(a.status, path).toBe(400);
      expect(a.body.error!.type, path).toBe("invalid_request_error");
      expect(a.body.error!.message, path).toMatch(/calendars are not supported for IMAP grants/);
    }
    expect(sb.events(id)).toEqual([]);
    expect(() => sb.addEvent(id, { when: { start_time: 1, end_time: 2 } })).toThrow(/IMAP/);
  });
});

describe("folders and the Sent folder per provider", () => {
  it("lists Google's labels with system_folder, SENT carrying \\Sent", async () => {
    const id = grant("google");
    const folders = list<Folder>(await api(`/grants/${id}/folders`));
    const byId = new Map(folders.map((f) => [f.id, f]));
    expect(byId.get("SENT")).toMatchObject({ name: "SENT", system_folder: true, attributes: ["\\Sent"] });
    expect(byId.get("INBOX")).toMatchObject({ system_folder: true });
    expect(folders.some((f) => f.system_folder === false)).toBe(true);
    expect(folders.every((f) => f.parent_id === undefined && f.child_count === undefined)).toBe(true);
    const sent = await send(id, "hello", "m1");
    expect((sent.body.data as Message).folders).toEqual(["SENT"]);
    const one = await api(`/grants/${id}/folders/SENT`);
    expect(one.body.data).toMatchObject({ id: "SENT", total_count: 1, object: "folder" });
  });

  it("lists Microsoft's folders with opaque ids, parent_id and child_count; sent mail goes to Sent Items", async () => {
    const id = grant("microsoft");
    const folders = list<Folder>(await api(`/grants/${id}/folders`));
    const names = folders.map((f) => f.name);
    for (const name of ["Inbox", "Sent Items", "Drafts", "Deleted Items", "Junk Email"])
      expect(names, name).toContain(name);
    expect(folders.every((f) => /^AAMkA[A-Za-z0-9_-]+AAA=$/.test(f.id))).toBe(true);
    expect(folders.every((f) => typeof f.parent_id === "string" && typeof f.child_count === "number")).toBe(true);
    expect(folders.every((f) => f.system_folder === undefined)).toBe(true);
    const inbox = folders.find((f) => f.name === "Inbox")!;
    expect(folders.filter((f) => f.parent_id === inbox.id)).toHaveLength(inbox.child_count!);
    expect(inbox.child_count).toBeGreaterThan(0);
    const sentItems = await sentFolder(id);
    expect(sentItems.name).toBe("Sent Items");
    const sent = await send(id, "hello", "m1");
    expect((sent.body.data as Message).folders).toEqual([sentItems.id]);
    // parent_id filters the children of a folder.
    const children = list<Folder>(await api(`/grants/${id}/folders?parent_id=${encodeURIComponent(inbox.id)}`));
    expect(children.map((f) => f.name)).toEqual(["Receipts"]);
  });

  it("names IMAP's and iCloud's Sent folders as they do, behind opaque ids", async () => {
    for (const [p, name] of [
      ["imap", "Sent"],
      ["icloud", "Sent Messages"],
      ["yahoo", "Sent"],
    ] as const) {
      const id = grant(p);
      const sent = await sentFolder(id);
      expect(sent.name, p).toBe(name);
      expect(sent.id, p).not.toBe(name);
      const folders = list<Folder>(await api(`/grants/${id}/folders`));
      expect(
        folders.map((f) => f.name),
        p,
      ).toContain(p === "yahoo" ? "Inbox" : "INBOX");
      const msg = await send(id, "hello", "m1");
      expect((msg.body.data as Message).folders, p).toEqual([sent.id]);
    }
  });

  it("pages folders with limit and page_token, and 404s an unknown folder", async () => {
    const id = grant("microsoft");
    const all = list<Folder>(await api(`/grants/${id}/folders`));
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await api(`/grants/${id}/folders?limit=3${token ? `&page_token=${token}` : ""}`);
      expect(list<Folder>(page).length).toBeLessThanOrEqual(3);
      seen.push(...list<Folder>(page).map((f) => f.id));
      token = page.body.next_cursor;
    } while (token);
    expect(seen).toEqual(all.map((f) => f.id));
    expect((await api(`/grants/${id}/folders?limit=201`)).status).toBe(400);
    expect((await api(`/grants/${id}/folders?page_token=nope`)).status).toBe(400);
    expect((await api(`/grants/${id}/folders/SENT`)).status).toBe(404);
  });

  it("has no mailbox on a virtual calendar", async () => {
    const id = grant("virtual-calendar");
    expect((await api(`/grants/${id}/folders`)).status).toBe(400);
    expect((await api(`/grants/${id}/messages`)).status).toBe(400);
    expect((await send(id, "s", "m")).status).toBe(400);
  });
});

describe("reading messages per provider", () => {
  it("takes folder ids only in `in`: a keyword, a name or another provider's id is a 400", async () => {
    const ms = grant("microsoft");
    await send(ms, "hello", "m1");
    const sentItems = await sentFolder(ms);
    for (const bad of ["SENT", "sent", "in:sent", "Sent Items"]) {
      const a = await api(`/grants/${ms}/messages?in=${encodeURIComponent(bad)}`);
      expect(a.status, bad).toBe(400);
      expect(a.body.error!.type, bad).toBe("invalid_request_error");
    }
    const ok = await api(`/grants/${ms}/messages?in=${encodeURIComponent(sentItems.id)}`);
    expect(ok.status).toBe(200);
    expect(list<Message>(ok)).toHaveLength(1);
    const g = grant("google");
    await send(g, "hello", "m1");
    expect((await api(`/grants/${g}/messages?in=sent`)).status).toBe(400);
    expect((await api(`/grants/${g}/messages?in=inbox`)).status).toBe(400);
    expect(list<Message>(await api(`/grants/${g}/messages?in=SENT`))).toHaveLength(1);
    expect(list<Message>(await api(`/grants/${g}/messages?in=INBOX`))).toHaveLength(0);
  });

  it("returns headers per provider: Google all, Microsoft none in Sent Items, EWS none for its own mail", async () => {
    const headersOf = async (id: string, inFolder: string) => {
      const a = await api(`/grants/${id}/messages?in=${encodeURIComponent(inFolder)}&fields=include_headers`);
      expect(a.status).toBe(200);
      return list<Message>(a)[0]!.headers;
    };
    const g = grant("google");
    await send(g, "hello", "g-1");
    expect((await headersOf(g, "SENT"))!.find((h) => h.name === "X-Reminder-Id")?.value).toBe("g-1");
    const ms = grant("microsoft");
    const msMessage = (await send(ms, "hello", "ms-1")).body.data as Message;
    expect(await headersOf(ms, (await sentFolder(ms)).id)).toEqual([]);
    const one = await api(`/grants/${ms}/messages/${msMessage.id}?fields=include_headers`);
    expect((one.body.data as Message).headers).toEqual([]);
    const ews = grant("ews");
    await send(ews, "hello", "ews-1");
    expect(await headersOf(ews, (await sentFolder(ews)).id)).toEqual([]);
    // Without fields=include_headers no provider returns headers at all.
    const plain = await api(`/grants/${g}/messages?in=SENT`);
    expect(list<Message>(plain)[0]!.headers).toBeUndefined();
  });

  it("answers 400 to fields=include_headers on IMAP, iCloud and Yahoo", async () => {
    for (const p of ["imap", "icloud", "yahoo"] as const) {
      const id = grant(p);
      const sent = (await send(id, "hello", "m")).body.data as Message;
      const a = await api(`/grants/${id}/messages?fields=include_headers`);
      expect(a.status, p).toBe(400);
      expect(a.body.error!.type, p).toBe("invalid_request_error");
      expect(a.body.error!.message, p).toMatch(/include_headers is not supported/);
      expect((await api(`/grants/${id}/messages/${sent.id}?fields=include_headers`)).status, p).toBe(400);
      // The plain read works.
      expect(list<Message>(await api(`/grants/${id}/messages`)), p).toHaveLength(1);
    }
  });

  it("filters by subject, to, any_email, received_after/before, and pages with limit and page_token", async () => {
    const id = grant("google");
    sb.setLimits({ sendsPerSecond: { google: 0 } }); // three sends at once: not Gmail's budget here
    onTestFinished(() => void sb.setLimits({ sendsPerSecond: { google: 2 } }));
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const to = async (email: string, subject: string) =>
      api(`/grants/${id}/messages/send`, {
        method: "POST",
        body: JSON.stringify({ to: [{ email }], subject, body: "b" }),
      });
    await to("ann@x.test", "Reminder: Team Sync");
    await to("bob@x.test", "Reminder: planning");
    await to("ann@x.test", "Other");
    const subjects = async (q: string) => list<Message>(await api(`/grants/${id}/messages?${q}`)).map((m) => m.subject);
    expect(await subjects("subject=team%20SYNC")).toEqual(["Reminder: Team Sync"]);
    expect(await subjects("subject=reminder")).toEqual(["Reminder: planning", "Reminder: Team Sync"]);
    expect(await subjects("to=ANN@x.test")).toEqual(["Other", "Reminder: Team Sync"]);
    expect(await subjects("any_email=bob@x.test,nobody@x.test")).toEqual(["Reminder: planning"]);
    expect(await subjects(`received_after=${t0}`)).toHaveLength(3);
    expect(await subjects(`received_after=${t0 + 3600}`)).toEqual([]);
    expect(await subjects(`received_before=${t0}`)).toEqual([]);
    const many = Array.from({ length: 26 }, (_, i) => `a${i}@x.test`).join(",");
    expect((await api(`/grants/${id}/messages?any_email=${many}`)).status).toBe(400);
    const first = await api(`/grants/${id}/messages?subject=reminder&limit=1`);
    expect(list<Message>(first).map((m) => m.subject)).toEqual(["Reminder: planning"]);
    const second = await api(`/grants/${id}/messages?subject=reminder&limit=1&page_token=${first.body.next_cursor}`);
    expect(list<Message>(second).map((m) => m.subject)).toEqual(["Reminder: Team Sync"]);
    expect(second.body.next_cursor).toBeUndefined();
  });
});
