import { describe, expect, it } from "vitest";
import {
  describeAccess,
  providerHasCalendar,
  scopesFor,
  sentCheckMethod,
  SCOPED_PROVIDERS,
} from "../../../src/nylas/providers.js";

describe("what each provider supports (Nylas' API reference)", () => {
  it.each([
    ["google", "marker_header"],
    ["microsoft", "subject_search"],
    ["imap", "none"],
    ["icloud", "none"],
    ["yahoo", "none"],
    ["ews", "none"],
    ["some-new-provider", "none"],
  ])("%s: Sent check by %s", (provider, method) => {
    expect(sentCheckMethod(provider)).toBe(method);
  });

  it("IMAP grants have no calendar; the others do", () => {
    expect(providerHasCalendar("imap")).toBe(false);
    for (const p of ["google", "microsoft", "icloud", "yahoo", "ews"]) expect(providerHasCalendar(p)).toBe(true);
  });

  it("asks Google and Microsoft for the least: calendar read, mail send, and mail read only when asked", () => {
    expect(scopesFor("google", ["calendar_read", "mail_send"])).toEqual([
      "openid",
      "https://www.googleapis.com/auth/userinfo.email",
      "https://www.googleapis.com/auth/userinfo.profile",
      "https://www.googleapis.com/auth/calendar.readonly",
      "https://www.googleapis.com/auth/gmail.send",
    ]);
    expect(scopesFor("microsoft", ["calendar_read", "mail_send", "mail_read"])).toEqual([
      "offline_access",
      "User.Read",
      "Calendars.Read",
      "Mail.Send",
      "Mail.Read",
    ]);
    for (const p of SCOPED_PROVIDERS) {
      const all = scopesFor(p, ["calendar_read", "mail_send", "mail_read"])!;
      // Nothing that writes a calendar or reads more than needed.
      expect(
        all.some((s) => /calendar(\.events)?$|Calendars\.ReadWrite|mail\.google\.com|Mail\.ReadWrite/.test(s)),
      ).toBe(false);
    }
  });

  it("credential providers have no scopes to ask for", () => {
    expect(scopesFor("imap", ["mail_send"])).toBeUndefined();
    expect(scopesFor("icloud", ["calendar_read"])).toBeUndefined();
  });

  it("names the refused access, with the provider's scope where it has one", () => {
    expect(describeAccess("microsoft", "mail_send")).toBe("send email (Mail.Send)");
    expect(describeAccess("icloud", "calendar_read")).toBe("read the calendar");
  });
});
