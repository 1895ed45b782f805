import { describe, expect, it } from "vitest";
import { camelCase } from "change-case";
import { mulberry32 } from "nylas-sandbox";
import { camelKey, camelKeys } from "../../../src/nylas/camel-keys.js";

// The SDK's key conversion (nylas/lib/esm/utils.js): change-case's camelCase, then a number
// joins the word before it. change-case is the SDK's own dependency, the oracle here.
const sdkKey = (key: string) => camelCase(key).replace(/_+(\d+)/g, (_m, digits: string) => digits);

describe("camelKey", () => {
  it("converts the keys Nylas sends as the SDK does", () => {
    const cases: Record<string, string> = {
      start_time: "startTime",
      ical_uid: "icalUid",
      master_event_id: "masterEventId",
      "x-request-id": "xRequestId",
      next_cursor: "nextCursor",
      id: "id",
      e_164: "e164",
      phone_number_2: "phoneNumber2",
      HTMLLink: "htmlLink",
      already_camelCase: "alreadyCamelCase",
      ["__proto__"]: "proto",
      "": "",
    };
    for (const [key, want] of Object.entries(cases)) {
      expect(camelKey(key), key).toBe(want);
      expect(sdkKey(key), key).toBe(want);
    }
  });

  it("agrees with the SDK's conversion on random keys, cached or not", () => {
    const rand = mulberry32(7);
    const alphabet = "abcXYZ019_-. $\u00e9\u0000";
    for (let n = 0; n < 5000; n++) {
      let key = "";
      const len = Math.floor(rand() * 12);
      for (let i = 0; i < len; i++) key += alphabet[Math.floor(rand() * alphabet.length)];
      expect(camelKey(key), JSON.stringify(key)).toBe(sdkKey(key));
      expect(camelKey(key), JSON.stringify(key)).toBe(sdkKey(key));
    }
  });
});

describe("camelKeys", () => {
  it("converts nested objects and objects in arrays, and keeps other values", () => {
    expect(
      camelKeys({
        start_time: 1,
        when: { end_timezone: "UTC", object: "timespan" },
        participants: [{ email: "a@x.io", phone_number: null }, "plain", 3, true],
        empty_list: [],
        no_value: null,
      }),
    ).toStrictEqual({
      startTime: 1,
      when: { endTimezone: "UTC", object: "timespan" },
      participants: [{ email: "a@x.io", phoneNumber: null }, "plain", 3, true],
      emptyList: [],
      noValue: null,
    });
  });

  it("keeps the SDK's quirks: a null or an array inside an array becomes an object", () => {
    expect(camelKeys({ list: [null, ["a", { b_c: 1 }]] })).toStrictEqual({
      list: [{}, { "0": "a", "1": { bC: 1 } }],
    });
    expect(camelKeys(null)).toStrictEqual({});
    expect(camelKeys("ab")).toStrictEqual({ "0": "a", "1": "b" });
  });
});
