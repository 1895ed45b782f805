import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startClock } from "../../src/time/clock.js";
import { startWebApp, type WebApp } from "../../src/web/app.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

/**
 * Opting out end to end: the worker sends reminders with unsubscribe links (sandbox as Nylas,
 * Postgres, Redis, the real worker and web app); a recipient unsubscribes through the link in
 * a sent message's header, and the next night's run leaves them out while the others still
 * get theirs; undo brings them back. Microsoft grants carry the link but not the headers.
 */

const PUBLIC_URL = "https://reminders.example.com";
const SECRET = "unsubscribe-secret-for-pipeline-0123";

describe("opt-out in the pipeline", { timeout: 120_000 }, () => {
  let p: Pipeline;
  let web: WebApp;
  const tag = Math.random().toString(36).slice(2, 10);
  const ann = `ann-${tag}@guest.example.com`;
  const bob = `bob-${tag}@guest.example.com`;
  let google: string;
  let microsoft: string;

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: 0 }, env: { UNSUBSCRIBE_SECRET: SECRET, PUBLIC_URL } });
    web = await startWebApp(p.config, p.log, { db: p.db, port: 0, host: "127.0.0.1" });
    google = p.sandbox.addGrant({ email: `g-${tag}@owner.example.com`, provider: "google", timezone: "UTC" }).id;
    microsoft = p.sandbox.addGrant({ email: `m-${tag}@owner.example.com`, provider: "microsoft", timezone: "UTC" }).id;
    await p.sync();
    await p.startWorker();
  });
  afterEach(() => startClock(undefined));
  afterAll(async () => {
    startClock(undefined);
    await web?.close(2000);
    await p?.db.suppression.deleteMany({ where: { recipient: { in: [ann, bob] } } });
    await p?.close();
  });

  const meeting = (grantId: string, title: string, utc: string, ...guests: string[]) => {
    const start = Date.parse(utc) / 1000;
    p.sandbox.addEvent(grantId, {
      title,
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: guests.map((email) => ({ email, status: "yes" })),
    });
  };
  /** The eve of `day` (18:30 UTC the day before): a tick and the worker's runs. */
  const night = async (day: string) => {
    const at = new Date(Date.parse(`${day}T00:00:00Z`) - 5.5 * 3600_000);
    startClock(at);
    await schedulerTick(p.db, p.queue, p.log, { now: at, pageSize: 100 });
    await waitForIdle(p.queue, 60_000);
  };
  const sent = (grantId: string, title: string) =>
    p.sandbox.sentMessages({ grantId }).filter((m) => m.subject.startsWith(`Reminder: ${title} `));
  const header = (m: { customHeaders: { name: string; value: string }[] }, name: string) =>
    m.customHeaders.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
  const runOf = (grantId: string, day: string) =>
    p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });

  let annLink: string;

  it("night 1: every reminder carries the link; one recipient is one-click, several are not; Microsoft has no headers", async () => {
    meeting(google, "solo1", "2027-03-10T09:00:00Z", ann);
    meeting(google, "pair1", "2027-03-10T10:00:00Z", ann, bob);
    meeting(microsoft, "ms1", "2027-03-10T11:00:00Z", ann);
    await night("2027-03-10");

    const [solo] = sent(google, "solo1");
    expect(solo!.to).toEqual([ann]);
    const list = header(solo!, "List-Unsubscribe")!;
    expect(list).toMatch(new RegExp(`^<${PUBLIC_URL}/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+>$`));
    expect(header(solo!, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    annLink = list.slice(1 + PUBLIC_URL.length, -1);
    expect(solo!.body).toContain(`<a href="${PUBLIC_URL}${annLink}">Unsubscribe</a>`);

    const [pair] = sent(google, "pair1");
    expect(pair!.to.sort()).toEqual([ann, bob].sort());
    expect(header(pair!, "List-Unsubscribe")).toMatch(/^<https:\/\/reminders\.example\.com\/unsubscribe\/.+>$/);
    expect(header(pair!, "List-Unsubscribe-Post")).toBeUndefined();
    expect(header(pair!, "List-Unsubscribe")).not.toBe(list);

    const [ms] = sent(microsoft, "ms1");
    expect(ms!.to).toEqual([ann]);
    expect(header(ms!, "List-Unsubscribe")).toBeUndefined();
    expect(header(ms!, "List-Unsubscribe-Post")).toBeUndefined();
    expect(header(ms!, "X-Reminder-Id")).toBeTruthy();
    expect(ms!.body).toContain(`${PUBLIC_URL}/unsubscribe/`);
    expect(ms!.body).toContain("Don't want these reminders?");
  });

  it("ann unsubscribes with one click from the Google message: night 2 leaves her out of that grant's reminders only", async () => {
    const res = await fetch(web.url + annLink, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(200);

    meeting(google, "solo2", "2027-03-11T09:00:00Z", ann);
    meeting(google, "pair2", "2027-03-11T10:00:00Z", ann, bob);
    meeting(microsoft, "ms2", "2027-03-11T11:00:00Z", ann);
    await night("2027-03-11");

    expect(sent(google, "solo2")).toEqual([]);
    const [pair] = sent(google, "pair2");
    expect(pair!.to).toEqual([bob]);
    // Now one recipient: one-click for bob.
    expect(header(pair!, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    expect(sent(microsoft, "ms2").map((m) => m.to)).toEqual([[ann]]);
    const run = await runOf(google, "2027-03-11");
    expect(run.status).toBe("completed");
    expect(run.skippedByReason).toMatchObject({ opted_out: 1 });
    expect((await runOf(microsoft, "2027-03-11")).skippedByReason).not.toHaveProperty("opted_out");
  });

  it("undo from the same page: night 3 reminds her again", async () => {
    const res = await fetch(`${web.url}${annLink}/undo`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(res.status).toBe(200);

    meeting(google, "solo3", "2027-03-12T09:00:00Z", ann);
    meeting(google, "pair3", "2027-03-12T10:00:00Z", ann, bob);
    await night("2027-03-12");

    expect(sent(google, "solo3").map((m) => m.to)).toEqual([[ann]]);
    expect(sent(google, "pair3").map((m) => m.to.sort())).toEqual([[ann, bob].sort()]);
    expect((await runOf(google, "2027-03-12")).skippedByReason).not.toHaveProperty("opted_out");
  });
});
