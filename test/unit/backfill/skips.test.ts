import { describe, expect, it } from "vitest";
import { describeSkips, sumSkips } from "../../../src/backfill/skips.js";

describe("sumSkips", () => {
  it("adds runs' per-reason counts", () => {
    expect(sumSkips([{ started: 2, cancelled: 1 }, { started: 1 }, {}])).toEqual({ started: 3, cancelled: 1 });
  });

  it("ignores what is not a count or a reason name (the JSON comes from the database)", () => {
    expect(
      sumSkips([
        null,
        undefined,
        "started",
        [1, 2],
        { started: "2", private: -1, all_day: 1.5, "\u001b[2J": 3, "x y": 1, not_organizer: 0, cancelled: 4 },
      ]),
    ).toEqual({ cancelled: 4 });
  });
});

describe("describeSkips", () => {
  it("a block: the total, then each reason with its count and why, most first then by name", () => {
    expect(describeSkips({ not_organizer: 1, started: 2, cancelled: 1 })).toEqual([
      "skipped 4 meeting(s):",
      "  started           2  starts within MIN_LEAD_MINUTES of the send, or already began",
      "  cancelled         1  cancelled",
      "  not_organizer     1  the reminder policy wants meetings the user organises",
    ]);
  });

  it("an unknown reason is listed without a why", () => {
    expect(describeSkips({ future_reason: 1 })).toEqual(["skipped 1 meeting(s):", "  future_reason     1"]);
  });

  it("nothing skipped is one line", () => {
    expect(describeSkips({})).toEqual(["skipped nothing"]);
    expect(describeSkips({ started: 0 })).toEqual(["skipped nothing"]);
  });
});
