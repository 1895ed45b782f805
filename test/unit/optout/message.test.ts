import { describe, expect, it } from "vitest";
import { messageOptOut, optOutComposer } from "../../../src/optout/message.js";
import { verifyToken } from "../../../src/optout/token.js";

const settings = { secret: "unsubscribe-secret-for-tests-0123", publicUrl: "https://reminders.example.com" };
const tokenOf = (url: string) => url.slice(`${settings.publicUrl}/unsubscribe/`.length);

describe("a reminder's unsubscribe link and headers", () => {
  it("one recipient: a link naming them, RFC 8058 one-click headers", () => {
    const o = messageOptOut(settings, "google", "Owner@example.org", [{ email: "Ann@example.com" }]);
    expect(o.url.startsWith(`${settings.publicUrl}/unsubscribe/`)).toBe(true);
    expect(verifyToken(settings.secret, tokenOf(o.url))).toEqual({
      recipient: "ann@example.com",
      sender: "owner@example.org",
    });
    expect(o.headers).toEqual([
      { name: "List-Unsubscribe", value: `<${o.url}>` },
      { name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click" },
    ]);
  });

  it("the same address twice (another case) is still one recipient", () => {
    const o = messageOptOut(settings, "google", "o@example.org", [{ email: "a@x.com" }, { email: "A@X.com" }]);
    expect(verifyToken(settings.secret, tokenOf(o.url)).recipient).toBe("a@x.com");
  });

  it("several recipients: a link naming nobody, List-Unsubscribe only (no one-click)", () => {
    const o = messageOptOut(settings, "google", "o@example.org", [{ email: "a@x.com" }, { email: "b@x.com" }]);
    expect(verifyToken(settings.secret, tokenOf(o.url))).toEqual({ recipient: "", sender: "o@example.org" });
    expect(o.headers).toEqual([{ name: "List-Unsubscribe", value: `<${o.url}>` }]);
  });

  it("Microsoft and iCloud: the link only, no headers (the spec: not supported there)", () => {
    for (const provider of ["microsoft", "icloud"]) {
      const o = messageOptOut(settings, provider, "o@example.org", [{ email: "a@x.com" }]);
      expect(o.headers, provider).toEqual([]);
      expect(o.url).toContain("/unsubscribe/");
    }
    expect(messageOptOut(settings, "ews", "o@example.org", [{ email: "a@x.com" }]).headers).toHaveLength(2);
  });

  it("no settings (UNSUBSCRIBE_SECRET unset): no composer", () => {
    expect(optOutComposer(undefined, "google", "o@example.org")).toBeUndefined();
    expect(optOutComposer(settings, "google", "o@example.org")!([{ email: "a@x.com" }]).headers).toHaveLength(2);
  });
});
