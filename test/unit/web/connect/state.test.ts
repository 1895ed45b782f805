import { describe, expect, it } from "vitest";
import { openState, sealState } from "../../../../src/web/connect/state.js";

const SECRET = "session-secret-for-unit-tests-0123";
const value = { state: "state-abc", verifier: "v".repeat(20) + "VERIFIER" + "w".repeat(36), exp: Date.now() + 60_000 };

describe("the connect cookie (AES-256-GCM under a key derived from SESSION_SECRET)", () => {
  it("opens to what was sealed, with the secret only", () => {
    expect(openState(sealState(value, SECRET), SECRET)).toEqual({ ok: true, value });
    const other = "another-secret-0123456789";
    expect(openState(sealState(value, SECRET), other)).toEqual({ ok: false, problem: "tampered" });
  });

  it("carries the browser's zone sealed with the state, when there is one", () => {
    const withZone = { ...value, zone: "Asia/Tokyo" };
    const sealed = sealState(withZone, SECRET);
    expect(openState(sealed, SECRET)).toEqual({ ok: true, value: withZone });
    // Sealed, not readable.
    expect(Buffer.from(sealed, "base64url").toString("latin1")).not.toContain("Asia/Tokyo");
    expect(openState(sealState(value, SECRET), SECRET)).toEqual({ ok: true, value });
  });

  it("shows nothing of its content, and never the same bytes twice", () => {
    const a = sealState(value, SECRET);
    for (const reading of [a, Buffer.from(a, "base64url").toString("latin1")]) {
      for (const part of ["VERIFIER", value.state, '"v"', String(value.exp)]) expect(reading).not.toContain(part);
    }
    expect(sealState(value, SECRET)).not.toBe(a);
  });

  it("refuses any change, a non-canonical encoding, or an expired one", () => {
    const sealed = sealState(value, SECRET);
    for (let i = 0; i < sealed.length; i++) {
      const changed = sealed.slice(0, i) + (sealed[i] === "A" ? "B" : "A") + sealed.slice(i + 1);
      expect(openState(changed, SECRET), `character ${i}`).toMatchObject({ ok: false, problem: "tampered" });
    }
    expect(openState(`${sealed}=`, SECRET)).toMatchObject({ ok: false });
    expect(openState(sealed.slice(0, 20), SECRET)).toMatchObject({ ok: false, problem: "tampered" });
    expect(openState(undefined, SECRET)).toEqual({ ok: false, problem: "missing" });
    const stale = sealState({ ...value, exp: Date.now() - 1 }, SECRET);
    expect(openState(stale, SECRET)).toEqual({ ok: false, problem: "expired" });
  });
});
