import { describe, expect, it } from "vitest";
import { checkRow } from "../../../src/grants/import/row.js";

describe("checkRow", () => {
  it("a Google row: the refresh token as the credentials, the settings checked", () => {
    const r = checkRow(
      {
        provider: "Google",
        email: "a@b.co",
        refresh_token: "1//x",
        time_zone: "europe/berlin",
        send_hour: "7",
        enabled: "TRUE",
        locale: "fr-ca",
      },
      2,
    );
    expect(r).toEqual({
      ok: true,
      row: {
        line: 2,
        provider: "google",
        email: "a@b.co",
        credentials: { refresh_token: "1//x" },
        settings: { timeZone: "Europe/Berlin", sendHour: 7, enabled: true, locale: "fr-CA" },
      },
    });
  });

  it("an IMAP row: the username defaults to the address, ports become numbers", () => {
    const r = checkRow(
      { provider: "imap", email: "a@b.co", imap_password: " p w ", imap_host: "imap.b.co", imap_port: "993" },
      3,
    );
    expect(r).toMatchObject({
      ok: true,
      row: { credentials: { imap_username: "a@b.co", imap_password: " p w ", imap_host: "imap.b.co", imap_port: 993 } },
    });
  });

  it("every problem of a row, one each, never quoting a credential", () => {
    const r = checkRow(
      {
        provider: "google",
        email: "a@b.co",
        imap_password: "hunter2-secret",
        send_hour: "24",
        enabled: "yes",
        time_zone: "Mars/Base",
      },
      4,
    );
    expect(r.ok).toBe(false);
    const problems = (r as { problems: string[] }).problems;
    expect(problems).toEqual([
      "refresh_token is required for google",
      "imap_password is for imap rows only",
      expect.stringMatching(/^send_hour must be a whole number 0-23/),
      expect.stringMatching(/^enabled must be true or false/),
      expect.stringMatching(/^time_zone must be an IANA time zone/),
    ]);
    expect(problems.join()).not.toContain("hunter2");
    expect(r).toMatchObject({ email: "a@b.co" });
  });

  it.each([
    [{ email: "a@b.co" }, "provider is missing"],
    [{ provider: "yahoo", email: "a@b.co" }, /provider must be google, microsoft, imap/],
    [{ provider: "microsoft" }, "email is missing"],
    [{ provider: "microsoft", email: "not-an-address", refresh_token: "t" }, /email is not an email address/],
    [{ provider: "imap", email: "a@b.co" }, "imap_password is required for imap"],
    [{ provider: "imap", email: "a@b.co", imap_password: "p", imap_port: "70000" }, /imap_port must be a port number/],
    [
      { provider: "imap", email: "a@b.co", imap_password: "p", refresh_token: "t" },
      /refresh_token is for google and microsoft/,
    ],
    [{ provider: "google", email: "a@b.co", refresh_token: "has space" }, /spaces or control characters/],
  ])("refuses %j", (record, problem) => {
    const r = checkRow(record, 5);
    expect(r.ok).toBe(false);
    expect((r as { problems: string[] }).problems).toContainEqual(
      typeof problem === "string" ? problem : expect.stringMatching(problem),
    );
  });
});
