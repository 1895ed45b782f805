import { describe, expect, it } from "vitest";
import { carriesMarker, isSameReminder, MARKER_HEADER } from "../../../src/reminders/sent-check.js";

const q = {
  marker: "m-1",
  subject: "Reminder: Standup tomorrow at 09:30",
  recipients: [{ email: "Ann@example.com" }, { email: "bob@example.com" }],
  sinceUnix: 0,
};

describe("recognising a sent reminder", () => {
  it("by its marker header (Google), whatever the header name's case", () => {
    expect(carriesMarker({ headers: [{ name: MARKER_HEADER.toLowerCase(), value: " m-1 " }] }, "m-1")).toBe(true);
    expect(carriesMarker({ headers: [{ name: MARKER_HEADER, value: "m-10" }] }, "m-1")).toBe(false);
    expect(carriesMarker({ headers: [] }, "m-1")).toBe(false);
  });

  it("by exact subject and the same recipients (Microsoft), since Nylas' subject filter is partial", () => {
    expect(isSameReminder({ subject: q.subject.toUpperCase(), to: ["bob@example.com", "ann@example.com"] }, q)).toBe(
      true,
    );
    expect(isSameReminder({ subject: `Re: ${q.subject}`, to: ["ann@example.com", "bob@example.com"] }, q)).toBe(false);
    expect(isSameReminder({ subject: q.subject, to: ["ann@example.com"] }, q)).toBe(false);
    expect(isSameReminder({ subject: q.subject, to: ["ann@example.com", "bob@example.com", "c@example.com"] }, q)).toBe(
      false,
    );
    expect(isSameReminder({ subject: undefined, to: ["ann@example.com", "bob@example.com"] }, q)).toBe(false);
  });
});
