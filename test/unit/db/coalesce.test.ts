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
  it("writes the calls of one turn together, and gathers the calls that arrive meanwhile", async () => {
    const r = recorder();
    const c = new Coalescer(r.write);
    const turn = Promise.all([c.run([1, 2]), c.run([3])]);
    // Nothing is written before the turn ends.
    expect(r.batches).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([[1, 2, 3]]);
    // The first batch is being written: these wait for it, then go out together.
    const later = Promise.all([c.one(4), c.run([5, 6])]);
    expect(await turn).toEqual([[2, 4], [6]]);
    expect(await later).toEqual([8, [10, 12]]);
    expect(r.batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("keeps batches under maxItems, but lets one larger call go alone", async () => {
    const r = recorder();
    const c = new Coalescer(r.write, 3);
    const results = await Promise.all([c.run([0]), c.run([1, 2]), c.run([3, 4]), c.run([5, 6, 7, 8]), c.run([9])]);
    expect(results).toEqual([[0], [2, 4], [6, 8], [10, 12, 14, 16], [18]]);
    expect(r.batches).toEqual([[0, 1, 2], [3, 4], [5, 6, 7, 8], [9]]);
  });

  it("retries a failed batch call by call, so only the bad call fails", async () => {
    const r = recorder((items) => items.includes(13));
    const c = new Coalescer(r.write);
    const calls = [c.one(1), c.one(2), c.run([13, 14]), c.one(3)].map((p) =>
      p.then(
        (v) => ({ ok: v }),
        (e: Error) => ({ err: e.message }),
      ),
    );
    expect(await Promise.all(calls)).toEqual([{ ok: 2 }, { ok: 4 }, { err: "refused 13,14" }, { ok: 6 }]);
    expect(r.batches).toEqual([[1, 2, 13, 14, 3], [1], [2], [13, 14], [3]]);
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
