import { describe, expect, it } from "vitest";
import { composeCancellation } from "../../../src/reminders/cancellation.js";
import type { Meeting } from "../../../src/reminders/meeting.js";
import { composeReminder, movedNote, SUBJECT_MAX } from "../../../src/reminders/template.js";

const iso = (s: string): number => Date.parse(s) / 1000;
const START = iso("2026-12-03T14:00:00Z"); // 15:00 in Berlin
const WAS = iso("2026-12-03T10:00:00Z"); // 11:00 in Berlin
const base: Meeting = {
  eventId: "ev1",
  start: START,
  end: START + 1800,
  title: "Planning",
  recipients: [{ email: "alice@example.com" }],
  recurring: false,
  userIsOrganizer: true,
};
const ctx = { zone: "Europe/Berlin", senderEmail: "me@example.com", now: new Date("2026-12-02T18:00:00Z") };

describe("the moved note", () => {
  it("says where the meeting is now and where it was, in the grant's zone", () => {
    expect(movedNote("Europe/Berlin", { start: START, movedFrom: WAS })).toBe("Moved: now at 15:00 (was 11:00)");
  });

  it("names the dates when the old start was on another local date", () => {
    expect(movedNote("Europe/Berlin", { start: START, movedFrom: WAS - 86_400 })).toBe(
      "Moved: now at Thu 3 Dec, 15:00 (was Wed 2 Dec, 11:00)",
    );
  });

  it("is empty for a meeting that did not move", () => {
    expect(movedNote("Europe/Berlin", { start: START })).toBe("");
  });

  it("is in the text and HTML of a moved meeting's reminder, and only there", () => {
    const moved = composeReminder({ ...base, movedFrom: WAS }, ctx);
    expect(moved.subject).toBe("Reminder: Planning tomorrow at 3:00 PM CET");
    expect(moved.text).toContain("Moved: now at 15:00 (was 11:00)");
    expect(moved.html).toContain("<strong>Moved: now at 15:00 (was 11:00)</strong>");
    const plain = composeReminder(base, ctx);
    expect(plain.subject).toBe("Reminder: Planning tomorrow at 3:00 PM CET");
    expect(plain.text).not.toContain("Moved");
  });
});

describe("the cancellation notice", () => {
  it("is short: what was cancelled and when, from whose calendar", () => {
    const c = composeCancellation({ ...base, cancelled: true }, { ...ctx, marker: "m-1" });
    expect(c.subject).toBe("Cancelled: Planning tomorrow at 3:00 PM CET");
    expect(c.text).toBe(
      [
        "The meeting you were reminded of is cancelled: Planning, Thursday 3 December 2026, 15:00 (Europe/Berlin).",
        "",
        "--",
        "Automatic notice sent from the calendar of me@example.com.",
        "Ref: m-1",
        "",
      ].join("\n"),
    );
  });

  it("treats the title as hostile: one line, escaped, the subject within bounds", () => {
    const title = `<script>alert(1)</script>\r\nBcc: x@evil.example ${"long ".repeat(100)}`;
    const c = composeCancellation({ ...base, title, cancelled: true }, ctx);
    expect(c.subject).not.toMatch(/[\r\n]/);
    expect(c.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
    expect(c.subject.endsWith("tomorrow at 3:00 PM CET")).toBe(true);
    expect(c.html).not.toContain("<script>");
    expect(c.html).toContain("&lt;script&gt;");
  });

  it("an untitled meeting is named as such", () => {
    expect(composeCancellation({ ...base, title: "  ", cancelled: true }, ctx).subject).toBe(
      "Cancelled: (no title) tomorrow at 3:00 PM CET",
    );
  });
});
