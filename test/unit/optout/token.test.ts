import { describe, expect, it } from "vitest";
import { BadToken, signToken, verifyToken } from "../../../src/optout/token.js";

const KEY = "unsubscribe-secret-for-tests-0123";
const one = { recipient: "ann@example.com", sender: "owner@example.org" };

describe("unsubscribe tokens", () => {
  it("round-trips a subject, lowercased", () => {
    const token = signToken(KEY, { recipient: "Ann@Example.com", sender: "OWNER@example.org" });
    expect(verifyToken(KEY, token)).toEqual(one);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  it("is deterministic: same subject and key, same token (a retry composes the same message)", () => {
    expect(signToken(KEY, one)).toBe(signToken(KEY, one));
    expect(signToken(KEY, one)).not.toBe(signToken(KEY, { ...one, recipient: "bob@example.com" }));
  });

  it("names no recipient for a message to several people", () => {
    expect(verifyToken(KEY, signToken(KEY, { recipient: "", sender: one.sender }))).toEqual({
      recipient: "",
      sender: one.sender,
    });
  });

  it("refuses a token signed with another key", () => {
    expect(() => verifyToken("another-secret-0123456789", signToken(KEY, one))).toThrow(BadToken);
  });

  it("refuses a payload edited to another recipient (the signature of the original kept)", () => {
    const [, mac] = signToken(KEY, one).split(".");
    const [payload] = signToken(KEY, { ...one, recipient: "eve@example.com" }).split(".");
    expect(() => verifyToken(KEY, `${payload}.${mac}`)).toThrow(BadToken);
  });

  it("refuses a flipped signature character, a truncated token, extra parts and junk", () => {
    const token = signToken(KEY, one);
    const last = token.at(-1) === "A" ? "B" : "A";
    const bad = [
      token.slice(0, -1) + last,
      token.slice(0, -1),
      token.slice(0, token.indexOf(".")),
      token.slice(0, 20),
      `${token}.x`,
      `${token}=`,
      token.replace(".", ".."),
      "",
      "not a token",
      "a".repeat(5000),
    ];
    for (const t of bad) expect(() => verifyToken(KEY, t), t.slice(0, 30)).toThrow(BadToken);
  });

  it("refuses a signed payload of another version or shape", async () => {
    const { createHmac } = await import("node:crypto");
    const forge = (payload: string) =>
      `${Buffer.from(payload).toString("base64url")}.` +
      createHmac("sha256", KEY).update(`nr-unsubscribe\n${payload}`).digest("base64url");
    // The forge matches the real scheme: a good payload passes, so the refusals below are for the payload.
    expect(verifyToken(KEY, forge("1\nann@example.com\nowner@example.org"))).toEqual(one);
    expect(() => verifyToken(KEY, forge("2\nann@example.com\nowner@example.org"))).toThrow(/version/);
    expect(() => verifyToken(KEY, forge("1\nann@example.com"))).toThrow(BadToken);
    expect(() => verifyToken(KEY, forge("1\nann@example.com\n"))).toThrow(BadToken);
  });
});
