import { describe, expect, it } from "vitest";
import type { Meeting } from "../../../src/reminders/meeting.js";
import {
  SUBJECT_MAX,
  composeReminder,
  formatDuration,
  type ComposedReminder,
  type ReminderContext,
} from "../../../src/reminders/template.js";

const iso = (s: string): number => Date.parse(s) / 1000;
const START = iso("2026-11-24T08:30:00Z"); // 09:30 in Berlin
const base: Meeting = {
  eventId: "ev1",
  start: START,
  end: START + 45 * 60,
  title: "Planning",
  recipients: [{ email: "alice@example.com" }],
  recurring: false,
  userIsOrganizer: true,
};
const ctx: ReminderContext = { zone: "Europe/Berlin", senderEmail: "me@example.com", senderName: "Me" };
const compose = (over: Partial<Meeting> = {}, c: Partial<ReminderContext> = {}): ComposedReminder =>
  composeReminder({ ...base, ...over }, { ...ctx, ...c });

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const ALLOWED_TAGS = new Set([
  "!DOCTYPE",
  "html",
  "head",
  "meta",
  "title",
  "body",
  "p",
  "h2",
  "table",
  "tr",
  "td",
  "a",
  "br",
]);

const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");

/** Structural safety checks every composed message must pass. */
function assertSafe(r: ComposedReminder): void {
  expect(r.subject).not.toMatch(/[\r\n\t\u2028\u2029\u0085]/);
  expect(r.subject).not.toMatch(CONTROLS);
  expect(r.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
  expect(r.subject).toBe(r.subject.trim());
  for (const body of [r.text, r.html]) {
    expect(body).not.toMatch(CONTROLS);
    expect(body).not.toMatch(/\r/);
    expect(body).not.toMatch(LONE_SURROGATE);
  }
  // Only our own tags, and only http(s) hrefs.
  for (const [, name, attrs] of r.html.matchAll(/<\/?([!A-Za-z][\w-]*)([^>]*)>/g)) {
    expect(ALLOWED_TAGS.has(name!), `tag <${name}>`).toBe(true);
    for (const [, attr, value] of attrs!.matchAll(/\s([\w-]+)="([^"]*)"/g)) {
      if (attr === "href") expect(unescape(value!)).toMatch(/^https?:\/\//);
      expect(value).not.toMatch(/[<>'"]/);
    }
    // Attributes are always double-quoted name="value" pairs: nothing else inside a tag.
    expect(attrs!.replace(/\s[\w-]+="[^"]*"/g, "").replace(/\s*\/?$/, "")).toBe(name === "!DOCTYPE" ? " html" : "");
  }
  // Text content between tags never contains a raw quote-breaking or tag character.
  for (const [, content] of r.html.matchAll(/>([^<]*)</g)) expect(content).not.toMatch(/["'<>]/);
}

function htmlTitle(r: ComposedReminder): string {
  const m = /<h2[^>]*>([^<]*)<\/h2>/.exec(r.html);
  return unescape(m?.[1] ?? "");
}
const textTitle = (r: ComposedReminder): string => r.text.split("\n")[2] ?? "";

describe("hostile titles", () => {
  // [name, title, title as shown (in body)]
  const cases: [string, string, string][] = [
    ["script tag", "<script>alert(1)</script>", "<script>alert(1)</script>"],
    ["quotes and ampersand", `"Q4" & 'review' <b>`, `"Q4" & 'review' <b>`],
    ["closing title tag", "</title><script>x()</script>", "</title><script>x()</script>"],
    ["attribute breakout", `" onmouseover="alert(1)`, `" onmouseover="alert(1)`],
    ["CRLF header injection", "Sync\r\nBcc: victim@example.com\r\n\r\n<h1>hi", "Sync Bcc: victim@example.com <h1>hi"],
    ["bare LF / CR", "a\nSubject: spoof\rX", "a Subject: spoof X"],
    ["unicode line separators and NEL", "a\u2028b\u2029c\u0085d", "a b c d"],
    ["tabs and runs of spaces", "\t  Stand-up \t\t now  ", "Stand-up now"],
    ["NUL and other C0/C1 controls", "N\u0000U\u0001L\u0007\u001b[31m\u007f\u0080\u009fX", "NUL[31mX"],
    ["BOM", "\ufeffPlanning", "Planning"],
    ["emoji", "Launch 🎉 👨‍👩‍👧‍👦 🇩🇪", "Launch 🎉 👨‍👩‍👧‍👦 🇩🇪"],
    ["Hebrew (RTL)", "פגישת צוות", "פגישת צוות"],
    ["Arabic with numbers", "اجتماع الفريق 2026", "اجتماع الفريق 2026"],
    ["bidi override stripped", "invoice\u202Efdp.exe", "invoicefdp.exe"],
    ["bidi isolates stripped", "a\u2066b\u2069c", "abc"],
    ["lone surrogate repaired", "x\ud800y", "x\ufffdy"],
    ["empty", "", "(no title)"],
    ["whitespace only", " \r\n\t ", "(no title)"],
    ["controls only", "\u0000\u0001", "(no title)"],
  ];
  it.each(cases)("%s", (_name, title, shown) => {
    const r = compose({ title });
    assertSafe(r);
    expect(htmlTitle(r)).toBe(shown);
    expect(textTitle(r)).toBe(shown);
    expect(r.subject).toBe(`Reminder: ${shown} tomorrow at 9:30 AM CET`);
  });

  it("10k-character title: subject capped with an ellipsis, time kept; body capped too", () => {
    const r = compose({ title: "x".repeat(10_000) });
    assertSafe(r);
    expect(r.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
    expect(r.subject).toMatch(/^Reminder: x+… tomorrow at 9:30 AM CET$/);
    expect(textTitle(r).length).toBeLessThanOrEqual(1000);
    expect(textTitle(r).endsWith("…")).toBe(true);
    expect(r.html.length).toBeLessThan(10_000);
  });

  it("truncation never splits an emoji cluster", () => {
    const family = "👨‍👩‍👧‍👦";
    const r = compose({ title: family.repeat(100) });
    assertSafe(r);
    const shown = /^Reminder: (.*)… tomorrow/.exec(r.subject)![1]!;
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.split(family).every((rest) => rest === "")).toBe(true);
  });

  it("a non-string title (bad data that slipped through) is untitled", () => {
    const r = compose({ title: undefined as unknown as string });
    expect(r.subject).toBe("Reminder: (no title) tomorrow at 9:30 AM CET");
  });
});

describe("links", () => {
  // [conferencing URL, expected href (unescaped) or null when it must not appear at all]
  const cases: [string, string | null][] = [
    ["https://zoom.us/j/123?pwd=a&b=c", "https://zoom.us/j/123?pwd=a&b=c"],
    ["http://example.com", "http://example.com/"],
    ["  https://meet.google.com/abc-defg-hij  ", "https://meet.google.com/abc-defg-hij"],
    [`https://ok.example/"><script>x</script>`, "https://ok.example/%22%3E%3Cscript%3Ex%3C/script%3E"],
    ["HTTPS://Teams.Microsoft.com/l/meetup", "https://teams.microsoft.com/l/meetup"],
    ["javascript:alert(1)", null],
    ["JaVaScRiPt:alert(document.cookie)", null],
    [" javascript:alert(1)", null],
    ["java\nscript:alert(1)", null],
    ["java\tscript:alert(1)", null],
    ["\u0000javascript:alert(1)", null],
    ["data:text/html,<script>alert(1)</script>", null],
    ["vbscript:msgbox(1)", null],
    ["mailto:someone@example.com", null],
    ["file:///etc/passwd", null],
    ["ftp://example.com/x", null],
    ["//evil.example/x", null],
    ["/relative/path", null],
    ["https://user:pass@evil.example/", null],
    ["https://zoom.us/j/1 https://evil.example", null],
    [`https://${"a".repeat(3000)}.example`, null],
    ["", null],
  ];
  it.each(cases)("%j", (url, href) => {
    const r = compose({ conferencingUrl: url });
    assertSafe(r);
    const hrefs = [...r.html.matchAll(/href="([^"]*)"/g)].map((m) => unescape(m[1]!));
    if (href === null) {
      expect(hrefs).toEqual([]);
      expect(r.text).not.toMatch(/^Join:/m);
      expect(r.html.toLowerCase()).not.toContain("script:");
      expect(r.text.toLowerCase()).not.toContain("script:");
    } else {
      expect(hrefs).toEqual([href]);
      expect(r.text).toContain(`Join: ${href}`);
    }
  });

  it("a location that is a URL becomes a link; a hostile one stays text", () => {
    const linked = compose({ location: "https://zoom.us/j/9" });
    expect(linked.html).toContain('<a href="https://zoom.us/j/9" rel="noopener noreferrer">https://zoom.us/j/9</a>');
    const hostile = compose({ location: "javascript:alert(1)//<b>Room</b>" });
    assertSafe(hostile);
    expect(hostile.html).not.toContain("href=");
    expect(hostile.html).toContain("javascript:alert(1)//&lt;b&gt;Room&lt;/b&gt;");
  });

  it("the same URL as location and conferencing link is shown once", () => {
    const r = compose({ location: "https://zoom.us/j/9", conferencingUrl: "https://zoom.us/j/9" });
    expect(r.html.match(/href=/g)).toHaveLength(1);
  });
});

describe("time, zone and duration", () => {
  // [zone, start, minutes, subject tail, body "When" line]
  const cases: [string, string, number, string, string][] = [
    [
      "Europe/Berlin",
      "2026-11-24T08:30:00Z",
      45,
      "9:30 AM CET",
      "Tuesday 24 November 2026, 09:30 (Europe/Berlin, CET)",
    ],
    ["Europe/Berlin", "2026-07-14T08:30:00Z", 90, "10:30 AM CEST", "Tuesday 14 July 2026, 10:30 (Europe/Berlin, CEST)"],
    [
      "europe/berlin",
      "2026-11-24T08:30:00Z",
      45,
      "9:30 AM CET",
      "Tuesday 24 November 2026, 09:30 (Europe/Berlin, CET)",
    ],
    [
      "America/New_York",
      "2026-03-08T07:30:00Z",
      30,
      "3:30 AM EDT",
      "Sunday 8 March 2026, 03:30 (America/New_York, EDT)",
    ],
    [
      "America/New_York",
      "2026-03-08T06:30:00Z",
      30,
      "1:30 AM EST",
      "Sunday 8 March 2026, 01:30 (America/New_York, EST)",
    ],
    [
      "America/Los_Angeles",
      "2026-11-24T20:00:00Z",
      60,
      "12:00 PM PST",
      "Tuesday 24 November 2026, 12:00 (America/Los_Angeles, PST)",
    ],
    [
      "Asia/Kathmandu",
      "2026-06-15T03:00:00Z",
      45,
      "8:45 AM Asia/Kathmandu",
      "Monday 15 June 2026, 08:45 (Asia/Kathmandu, GMT+5:45)",
    ],
    ["Asia/Kolkata", "2026-06-15T03:00:00Z", 60, "8:30 AM IST", "Monday 15 June 2026, 08:30 (Asia/Kolkata, IST)"],
    [
      "Australia/Eucla",
      "2026-06-15T00:00:00Z",
      25,
      "8:45 AM ACWST",
      "Monday 15 June 2026, 08:45 (Australia/Eucla, ACWST)",
    ],
    [
      "Pacific/Chatham",
      "2026-06-15T00:00:00Z",
      60,
      "12:45 PM CHAST",
      "Monday 15 June 2026, 12:45 (Pacific/Chatham, CHAST)",
    ],
    [
      "America/St_Johns",
      "2026-01-15T12:00:00Z",
      60,
      "8:30 AM NST",
      "Thursday 15 January 2026, 08:30 (America/St_Johns, NST)",
    ],
    [
      "Pacific/Kiritimati",
      "2026-01-15T10:15:00Z",
      60,
      "12:15 AM Pacific/Kiritimati",
      "Friday 16 January 2026, 00:15 (Pacific/Kiritimati, GMT+14)",
    ],
    [
      "Pacific/Pago_Pago",
      "2026-01-15T12:00:00Z",
      60,
      "1:00 AM Pacific/Pago_Pago",
      "Thursday 15 January 2026, 01:00 (Pacific/Pago_Pago, GMT-11)",
    ],
    ["Africa/Cairo", "2026-04-23T22:00:00Z", 60, "1:00 AM EEST", "Friday 24 April 2026, 01:00 (Africa/Cairo, EEST)"],
    ["UTC", "2026-01-15T12:00:00Z", 60, "12:00 PM UTC", "Thursday 15 January 2026, 12:00 (UTC)"],
  ];
  it.each(cases)("%s %s", (zone, start, minutes, tail, when) => {
    const s = iso(start);
    const r = compose({ start: s, end: s + minutes * 60 }, { zone });
    assertSafe(r);
    expect(r.subject).toBe(`Reminder: Planning tomorrow at ${tail}`);
    expect(r.text).toContain(`\nWhen: ${when}\n`);
    expect(r.html).toContain(`>${when}<`);
    expect(r.text).toContain(`\nDuration: ${formatDuration(minutes * 60)}\n`);
  });

  it.each([
    [0, ""],
    [-60, ""],
    [Number.NaN, ""],
    [29, ""],
    [30, "1 min"],
    [59, "1 min"],
    [60, "1 min"],
    [45 * 60, "45 min"],
    [59 * 60, "59 min"],
    [3600, "1 h"],
    [5400, "1 h 30 min"],
    [2 * 3600 + 60, "2 h 1 min"],
    [26 * 3600, "26 h"],
  ])("formatDuration(%d) = %j", (seconds, expected) => {
    expect(formatDuration(seconds)).toBe(expected);
  });

  it("no duration line for an instant event", () => {
    expect(compose({ end: START }).text).not.toContain("Duration");
  });

  it("all-day meetings say so and show no clock time", () => {
    const start = iso("2026-11-23T23:00:00Z");
    const r = compose({ start, end: start + 3 * 86_400, allDay: true });
    assertSafe(r);
    expect(r.subject).toBe("Reminder: Planning tomorrow (all day)");
    expect(r.text).toContain("When: Tuesday 24 November 2026, all day (Europe/Berlin)");
    expect(r.text).toContain("Duration: 3 days");
  });

  it.each([
    ["2026-11-23T17:00:00Z", "tomorrow"],
    ["2026-11-24T06:00:00Z", "today"],
    ["2026-11-20T17:00:00Z", "on Tue 24 Nov"],
  ])("relative day from now=%s is %j", (now, word) => {
    expect(compose({}, { now: new Date(now) }).subject).toBe(`Reminder: Planning ${word} at 9:30 AM CET`);
  });
});

describe("people, footer and marker", () => {
  it("organizer, sender and marker are escaped / sanitised", () => {
    const r = compose(
      {
        organizer: { name: `Eve "<script>" \r\nBcc: x@y.z`, email: "eve@example.com" },
        location: "Room <4>\r\nFloor 2",
      },
      { senderName: "Me\r\n<b>", senderEmail: "me@example.com", marker: "rem_42\r\nBcc: evil@x.y <script>" },
    );
    assertSafe(r);
    expect(r.text).toContain(`Organizer: Eve "<script>" Bcc: x@y.z <eve@example.com>`);
    expect(r.html).toContain("Eve &quot;&lt;script&gt;&quot; Bcc: x@y.z &lt;eve@example.com&gt;");
    expect(r.text).toContain("Where: Room <4> Floor 2");
    expect(r.text).toContain("Ref: rem_42Bcc:evil@x.yscript");
    expect(r.text).toContain("calendar of Me <b> <me@example.com>.");
    expect(r.html).toContain("calendar of Me &lt;b&gt; &lt;me@example.com&gt;.");
  });

  it("no marker, no organizer, no location: just the essentials", () => {
    const r = compose({}, { senderName: undefined, marker: undefined });
    assertSafe(r);
    expect(r.text).toBe(
      [
        "Reminder: you have a meeting tomorrow.",
        "",
        "Planning",
        "",
        "When: Tuesday 24 November 2026, 09:30 (Europe/Berlin, CET)",
        "Duration: 45 min",
        "",
        "--",
        "Automatic reminder sent from the calendar of me@example.com.",
        "",
      ].join("\n"),
    );
    expect(r.html).not.toContain("Ref:");
  });

  it("the description is never copied into the reminder", () => {
    const r = compose({ description: "Dial-in PIN 1234 secret-notes" });
    expect(r.text).not.toContain("secret-notes");
    expect(r.html).not.toContain("secret-notes");
  });

  it("is deterministic", () => {
    const m = {
      organizer: { email: "o@example.com", name: "O" },
      location: "Room",
      conferencingUrl: "https://zoom.us/j/1",
    };
    expect(compose(m, { marker: "r1" })).toEqual(compose(m, { marker: "r1" }));
  });

  it("an invalid zone is a configuration error and throws", () => {
    expect(() => compose({}, { zone: "Not/AZone" })).toThrow(/time zone/);
  });
});

describe("unsubscribe footer", () => {
  const url = "https://reminders.example.com/unsubscribe/abc.def";

  it("links the unsubscribe page in text and HTML", () => {
    const m = compose({}, { unsubscribeUrl: url });
    expect(m.text).toContain(`Don't want these reminders? Unsubscribe: ${url}`);
    expect(m.html).toContain(`Don't want these reminders? <a href="${url}">Unsubscribe</a>`);
  });

  it("has no line without a URL, and none for a URL that is not http(s)", () => {
    for (const unsubscribeUrl of [undefined, "javascript:alert(1)"]) {
      const m = compose({}, unsubscribeUrl ? { unsubscribeUrl } : {});
      expect(m.text).not.toContain("Unsubscribe");
      expect(m.html).not.toContain("Unsubscribe");
    }
  });
});
