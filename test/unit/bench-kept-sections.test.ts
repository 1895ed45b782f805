import { describe, expect, it } from "vitest";
import { KEPT_MARK, withKeptSections } from "../../bench/lib/report.js";

// `npm run bench` rewrites BENCHMARKS.md: the figures are new, the hand-written findings stay.
describe("withKeptSections", () => {
  const fresh = "# Benchmarks\n\n## Summary\n\nnew figures\n";

  it("appends the previous file's marked sections, in order, and drops the rest", () => {
    const previous = [
      "# Benchmarks",
      "## Summary",
      "old figures",
      `## Where the CPU goes\n${KEPT_MARK}\n\nprofiles`,
      "## Old generated section\nstale",
      `## Later findings\n${KEPT_MARK}\ntext`,
    ].join("\n");
    const out = withKeptSections(fresh, previous);
    expect(out).toBe(
      `# Benchmarks\n\n## Summary\n\nnew figures\n\n## Where the CPU goes\n${KEPT_MARK}\n\nprofiles\n\n## Later findings\n${KEPT_MARK}\ntext\n`,
    );
    expect(out).not.toContain("old figures");
    expect(out).not.toContain("stale");
  });

  it("leaves the fresh file alone without a previous one or without marked sections", () => {
    expect(withKeptSections(fresh, undefined)).toBe(fresh);
    expect(withKeptSections(fresh, "# Benchmarks\n## Findings\nnot marked\n")).toBe(fresh);
  });
});
