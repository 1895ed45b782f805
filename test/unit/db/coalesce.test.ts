import { describe, expect, it } from "vitest";
import { Coalescer } from "../../../src/db/coalesce.js";

const tick = () => new Promise((r) => setImmediate(r));

/** A writer that records its batches and answers each item doubled, after a turn. */
function recorder(fail?: (items: number[]) => boolean) {
  const batches: number[][] = [];
  const write = async (items: number[]) => {
    batches.push([...items]);
    await tick();
    if (fail?.(items)) throw new Error(`refused ${items.join(",")}`);
    return items.map((i) => i * 2);
  };
  return { batches, write };
}

describe("Coalescer", () => {
  it("writes the first call at once and gathers the calls that arrive meanwhile", async () => {
    const r = recorder();
    const c = new Coalescer(r.write);
    const results = await Promise.all([c.run([1, 2]), c.run([3]), c.one(4), c.run([5, 6])]);
    expect(results).toEqual([[2, 4], [6], 8, [10, 12]]);
    expect(r.batches).toEqual([
      [1, 2],
      [3, 4, 5, 6],
    ]);
  });

  it("keeps batches under maxItems, but lets one larger call go alone", async () => {
    const r = recorder();
    const c = new Coalescer(r.write, 3);
    const results = await Promise.all([c.run([0]), c.run([1, 2]), c.run([3, 4]), c.run([5, 6, 7, 8]), c.run([9])]);
    expect(results).toEqual([[0], [2, 4], [6, 8], [10, 12, 14, 16], [18]]);
    expect(r.batches).toEqual([[0], [1, 2], [3, 4], [5, 6, 7, 8], [9]]);
  });

  it("retries a failed batch call by call, so only the bad call fails", async () => {
    const r = recorder((items) => items.includes(13));
    const c = new Coalescer(r.write);
    const first = c.one(1);
    const rest = [c.one(2), c.run([13, 14]), c.one(3)].map((p) =>
      p.then(
        (v) => ({ ok: v }),
        (e: Error) => ({ err: e.message }),
      ),
    );
    expect(await first).toBe(2);
    expect(await Promise.all(rest)).toEqual([{ ok: 4 }, { err: "refused 13,14" }, { ok: 6 }]);
    expect(r.batches).toEqual([[1], [2, 13, 14, 3], [2], [13, 14], [3]]);
  });

  it("answers an empty call without writing, and keeps working after a failure", async () => {
    const r = recorder((items) => items.includes(0));
    const c = new Coalescer(r.write);
    expect(await c.run([])).toEqual([]);
    await expect(c.one(0)).rejects.toThrow("refused 0");
    expect(await c.one(7)).toBe(14);
    expect(r.batches).toEqual([[0], [7]]);
  });
});
