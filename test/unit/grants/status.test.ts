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
  ];

  it.each(cases)("$status, enabled $enabled: $why", ({ status, enabled, why }) => {
    expect(whyGrantCannotRun({ status, enabled })).toBe(why);
    expect(grantCanRun({ status, enabled })).toBe(why === undefined);
    // The Prisma filter picks exactly the grants the predicate lets run.
    expect(status === GRANT_CAN_RUN_WHERE.status && enabled === GRANT_CAN_RUN_WHERE.enabled).toBe(why === undefined);
  });

  it("says the same in SQL", () => {
    expect(GRANT_CAN_RUN_SQL).toBe("status = 'valid' AND enabled");
  });
});
