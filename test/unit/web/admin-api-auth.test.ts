import { describe, expect, it } from "vitest";
import { adminApiEnabled, parseBearer, tokenMatches } from "../../../src/web/admin/api-auth.js";

describe("admin API credentials", () => {
  it("reads a bearer token, nothing else", () => {
    expect(parseBearer("Bearer abc.DEF-123")).toBe("abc.DEF-123");
    expect(parseBearer("bearer   abc ")).toBe("abc");
    for (const h of [undefined, "", "Bearer", "Bearer a b", "Basic YTpi", "Token abc"])
      expect(parseBearer(h)).toBeUndefined();
  });

  it("compares tokens whole, whatever their lengths", () => {
    const token = "x".repeat(40);
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(token.slice(1), token)).toBe(false);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches("", token)).toBe(false);
  });

  it("is on with a token or both basic credentials", () => {
    expect(adminApiEnabled({})).toBe(false);
    expect(adminApiEnabled({ user: "op" })).toBe(false);
    expect(adminApiEnabled({ token: "t".repeat(32) })).toBe(true);
    expect(adminApiEnabled({ user: "op", password: "password" })).toBe(true);
  });
});
