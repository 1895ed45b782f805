import { describe, expect, it } from "vitest";
import { GRANT_CAN_RUN_SQL, GRANT_CAN_RUN_WHERE, grantCanRun, whyGrantCannotRun } from "../../../src/grants/status.js";

describe("can a grant run", () => {
  const cases = [
    { status: "valid", enabled: true, why: undefined },
    { status: "valid", enabled: false, why: "disabled" },
    { status: "needs_reauth", enabled: true, why: "needs re-authentication" },
    { status: "needs_reauth", enabled: false, why: "disabled" },
    { status: "revoked", enabled: true, why: "revoked" },
    { status: "revoked", enabled: false, why: "disabled" },
  ].flatMap((c) => ["google", "microsoft", "icloud"].map((provider) => ({ ...c, provider })));
  const imap = [
    { status: "valid", enabled: true, provider: "imap", why: "has no calendar (Nylas has none for imap grants)" },
    {
      status: "needs_reauth",
      enabled: true,
      provider: "imap",
      why: "has no calendar (Nylas has none for imap grants)",
    },
    { status: "valid", enabled: false, provider: "imap", why: "disabled" },
  ];

  it.each([...cases, ...imap])("$provider, $status, enabled $enabled: $why", ({ status, enabled, provider, why }) => {
    expect(whyGrantCannotRun({ status, enabled, provider })).toBe(why);
    expect(grantCanRun({ status, enabled, provider })).toBe(why === undefined);
    // The Prisma filter picks exactly the grants the predicate lets run.
    const picked =
      status === GRANT_CAN_RUN_WHERE.status &&
      enabled === GRANT_CAN_RUN_WHERE.enabled &&
      !(GRANT_CAN_RUN_WHERE.provider.notIn as readonly string[]).includes(provider);
    expect(picked).toBe(why === undefined);
  });

  it("says the same in SQL", () => {
    expect(GRANT_CAN_RUN_SQL).toBe("status = 'valid' AND enabled AND provider NOT IN ('imap')");
  });
});
