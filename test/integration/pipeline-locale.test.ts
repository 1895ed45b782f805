import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyGrantSettings } from "../../src/grants/settings-store.js";
import { GRANT_CAN_RUN_WHERE } from "../../src/grants/status.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// The grant's locale (else DEFAULT_LOCALE) reaches the reminders the worker sends, through
// the run's grant read and the send context, against the sandbox, Redis and Postgres.
describe("reminders in the grant's locale (pipeline)", { timeout: 120_000 }, () => {
  let p: Pipeline;
  const now = new Date();

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 6, now } }, env: { DEFAULT_LOCALE: "de" } });
    await p.sync();
    await p.startWorker();
  });
  afterAll(async () => {
    await p.close();
  });

  it("a grant set to fr gets French reminders, the others the deployment's German", async () => {
    const runnable = await p.db.grant.findMany({
      where: { id: { in: p.sandbox.grantIds() }, ...GRANT_CAN_RUN_WHERE },
      orderBy: { id: "asc" },
    });
    const withReminders = runnable.filter((g) => p.sandbox.expectedReminders({ now, grantIds: [g.id] }).length > 0);
    expect(withReminders.length).toBeGreaterThanOrEqual(2);
    const [french, ...others] = withReminders;
    expect((await applyGrantSettings(p.db, french!.id, { locale: "fr" })).missing).toBeUndefined();

    await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 50, ignoreSendHour: true });
    await waitForIdle(p.queue, 60_000);
    // The delivery check (harness/deliveries.ts) reads English subjects: here every message a
    // grant sent is checked for its wording (the English batch tests check what is sent).
    const subjects = (grantId: string) => p.sandbox.sentMessages({ grantId }).map((m) => m.subject);
    expect(subjects(french!.id).length).toBeGreaterThan(0);
    for (const s of subjects(french!.id)) expect(s).toMatch(/^Rappel : .+ (demain|aujourd’hui|le .+) à \d{1,2}:\d{2} /);
    for (const g of others) {
      expect(subjects(g.id).length).toBeGreaterThan(0);
      for (const s of subjects(g.id)) expect(s).toMatch(/^Erinnerung: .+ (morgen|heute|am .+) um \d{1,2}:\d{2} /);
    }
  });
});
