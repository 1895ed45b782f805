import { describe, expect, it } from "vitest";
import {
  canonicalNotification,
  macNotification,
  verifiedNotification,
  webhookJobKey,
} from "../../../src/webhooks/job-mac.js";
import type { GrantNotification } from "../../../src/webhooks/notification.js";

const key = webhookJobKey("nyk_v0_test_api_key");
const n: GrantNotification = {
  id: "n-1",
  type: "grant.expired",
  grantId: "g-1",
  time: 1_700_000_000,
  provider: "google",
  email: "a@example.com",
  attempt: 2,
};
const bare: GrantNotification = { id: "n", type: "grant.deleted", grantId: "g" };
const signed = (x: GrantNotification) => ({ ...x, mac: macNotification(x, key) });

describe("the MAC of a webhook job", () => {
  it("is keyed with a key derived from the API key, never the API key itself", () => {
    expect(key).toHaveLength(32);
    expect(key.toString("utf8")).not.toContain("nyk_v0_test_api_key");
    expect(webhookJobKey("nyk_v0_test_api_key").equals(key)).toBe(true);
    expect(webhookJobKey("another").equals(key)).toBe(false);
    // HMAC-SHA256 keyed with the raw key would be a different MAC.
    expect(macNotification(n, key)).not.toBe(macNotification(n, Buffer.from("nyk_v0_test_api_key")));
  });

  it("covers every field the worker acts on, in a fixed order (absent fields included)", () => {
    expect(canonicalNotification(n)).toBe('["v1","n-1","grant.expired","g-1",1700000000,"google","a@example.com",2]');
    expect(canonicalNotification(bare)).toBe('["v1","n","grant.deleted","g",null,null,null,null]');
    // Key order of the job data does not matter; the values do.
    expect(verifiedNotification(JSON.parse(JSON.stringify({ mac: macNotification(n, key), ...n })), key)).toEqual(n);
  });

  it("verifies exactly what the route signed", () => {
    expect(verifiedNotification(signed(n), key)).toEqual(n);
    expect(verifiedNotification(signed(bare), key)).toEqual(bare);
  });

  it.each([
    ["no MAC", { ...n }],
    ["an empty MAC", { ...n, mac: "" }],
    ["a MAC of the wrong length", { ...n, mac: "ab" }],
    ["an upper-case MAC", { ...n, mac: macNotification(n, key).toUpperCase() }],
    ["another key's MAC", { ...n, mac: macNotification(n, webhookJobKey("other")) }],
    ["another grant", { ...signed(n), grantId: "g-2" }],
    ["another trigger", { ...signed(n), type: "grant.deleted" }],
    ["another time", { ...signed(n), time: 1_700_000_001 }],
    ["a field dropped", (({ email: _e, ...rest }) => rest)(signed(n))],
    ["a field added", { ...signed(n), status: "revoked" }],
    ["a trigger the worker does not know", signed({ ...n, type: "grant.purged" as never })],
    ["a number as a string", { ...signed(n), time: "1700000000" }],
    ["null", null],
    ["an array", [signed(n)]],
    ["a string", JSON.stringify(signed(n))],
  ])("refuses %s", (_what, data) => {
    expect(verifiedNotification(data, key)).toBeUndefined();
  });
});
