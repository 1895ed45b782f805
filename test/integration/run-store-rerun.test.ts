import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, RunStatus } from "../../src/db/client.js";
import { RunStore } from "../../src/runs/store.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";

/** The runs store's re-run transitions (completed → queued), on real Postgres. */
describe("RunStore: rerun and sweep", () => {
  let db: Db;
  let store: RunStore;
  const grants = [uniqueId("rr"), uniqueId("rr"), uniqueId("rr")];
  const day = "2026-12-03";
  const make = (grantId: string, status: RunStatus) =>
    db.run.create({ data: { grantId, day, timeZone: "Europe/Berlin", status } });
  const row = (grantId: string) => db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });

  beforeAll(async () => {
    db = await testPrisma();
    store = new RunStore(db);
    await db.grant.createMany({
      data: grants.map((id, i) => ({
        id,
        email: `${id}@example.com`,
        provider: "google",
        timeZone: "Europe/Berlin",
        status: i === 2 ? "revoked" : "valid",
      })),
    });
  });
  afterAll(async () => {
    await deleteGrants(db, grants);
  });

  it("rerun queues a completed run again, and only a completed one", async () => {
    await make(grants[0]!, "completed");
    expect(await store.rerun({ grantId: grants[0]!, day })).toBe(true);
    expect(await row(grants[0]!)).toMatchObject({ status: "queued", lastError: null, sweptAt: null });
    // Queued now: a second change finds nothing to do.
    expect(await store.rerun({ grantId: grants[0]!, day })).toBe(false);
    await db.run.update({ where: { grantId_day: { grantId: grants[0]!, day } }, data: { status: "running" } });
    expect(await store.rerun({ grantId: grants[0]!, day })).toBe(false);
    expect((await row(grants[0]!)).status).toBe("running");
    expect(await store.rerun({ grantId: grants[1]!, day: "2026-12-04" })).toBe(false);
  });

  it("sweep queues a completed run once, recording when; sweepable lists completed unswept runs of grants that can run", async () => {
    await make(grants[1]!, "completed");
    await make(grants[2]!, "completed"); // its grant is revoked
    const listed = (await store.sweepable(day, day)).filter((r) => grants.includes(r.grantId));
    expect(listed).toEqual([{ grantId: grants[1]!, day, timeZone: "Europe/Berlin", finishedAt: null }]);
    const at = new Date("2026-12-02T20:30:00.000Z");
    expect(await store.sweep({ grantId: grants[1]!, day }, at)).toBe(true);
    expect(await row(grants[1]!)).toMatchObject({ status: "queued", sweptAt: at });
    await db.run.update({ where: { grantId_day: { grantId: grants[1]!, day } }, data: { status: "completed" } });
    // Once per day: swept before, so neither listed nor swept again.
    expect((await store.sweepable(day, day)).filter((r) => r.grantId === grants[1])).toEqual([]);
    expect(await store.sweep({ grantId: grants[1]!, day }, new Date())).toBe(false);
    expect(await row(grants[1]!)).toMatchObject({ status: "completed", sweptAt: at });
  });
});
