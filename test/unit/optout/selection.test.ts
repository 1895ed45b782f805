import { describe, expect, it } from "vitest";
import { dropSuppressed } from "../../../src/optout/selection.js";
import type { Meeting, Selection } from "../../../src/reminders/meeting.js";

const meeting = (eventId: string, ...emails: string[]): Meeting => ({
  eventId,
  start: 1_800_000_000,
  end: 1_800_001_800,
  title: eventId,
  recipients: emails.map((email) => ({ email })),
  recurring: false,
  userIsOrganizer: true,
});

describe("selection without suppressed recipients", () => {
  const selection: Selection = {
    meetings: [meeting("both", "Ann@x.com", "bob@x.com"), meeting("ann-only", "ann@x.com"), meeting("cy", "cy@x.com")],
    skipped: { cancelled: 2 },
    problems: [],
  };

  it("drops the suppressed recipients; a meeting left with nobody is skipped as opted_out", () => {
    const out = dropSuppressed(selection, new Set(["ann@x.com"]));
    expect(out.meetings.map((m) => [m.eventId, m.recipients.map((r) => r.email)])).toEqual([
      ["both", ["bob@x.com"]],
      ["cy", ["cy@x.com"]],
    ]);
    expect(out.skipped).toEqual({ cancelled: 2, opted_out: 1 });
    expect(selection.meetings[0]!.recipients).toHaveLength(2);
  });

  it("changes nothing when nobody is suppressed", () => {
    expect(dropSuppressed(selection, new Set())).toBe(selection);
    expect(dropSuppressed(selection, new Set(["zed@x.com"]))).toBe(selection);
  });
});
