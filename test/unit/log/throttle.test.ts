import { describe, expect, it } from "vitest";
import { Throttle } from "../../../src/log/throttle.js";

describe("Throttle", () => {
  it("lets the first of a kind through, holds repeats for the window, then reports them", () => {
    const t = new Throttle(60_000);
    expect(t.pass("ECONNREFUSED", 0)).toBe(0);
    for (let s = 1; s < 60; s++) expect(t.pass("ECONNREFUSED", s * 1000)).toBeUndefined();
    expect(t.pass("ECONNREFUSED", 60_000)).toBe(59);
    expect(t.pass("ECONNREFUSED", 60_001)).toBeUndefined();
  });

  it("keeps kinds apart", () => {
    const t = new Throttle(60_000);
    expect(t.pass("a", 0)).toBe(0);
    expect(t.pass("b", 1)).toBe(0);
    expect(t.pass("a", 2)).toBeUndefined();
  });

  it("forgets the oldest kind beyond its bound", () => {
    const t = new Throttle(60_000, 2);
    t.pass("a", 0);
    t.pass("b", 0);
    t.pass("c", 0);
    expect(t.pass("a", 1)).toBe(0); // forgotten: let through again
    expect(t.pass("c", 1)).toBeUndefined();
  });
});
