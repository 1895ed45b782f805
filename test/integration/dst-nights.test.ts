import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { syncGrants } from "../../src/grants/sync.js";
import { createLogger } from "../../src/log/logger.js";
import { NylasApi } from "../../src/nylas/client.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { createRunsQueue } from "../../src/runs/queue.js";
import { createRedis } from "../../src/redis/connection.js";
// The sandbox's own zone code (Intl only), independent of the worker's src/time/window.ts.
import { addDays, localParts, startSandbox } from "nylas-sandbox";
import { clockFrom } from "../../src/time/clock.js";
import { WorkerFleet } from "../../harness/fleet.js";
import { deleteGrants, testDatabaseUrl, testPrisma, uniqueId } from "../support/db.js";

/**
 * DST nights end to end, whatever day the suite runs on: real worker processes
 * (`jobs/worker.ts`) whose calendar clock starts on the evening before a DST change
 * (CLOCK_START), a sandbox on the same clock, and the worker's own scheduler tick (its
 * BullMQ job scheduler, every second). Each grant has meetings at the edges of its local
 * day: just before and after local midnight at both ends, and around the transition.
 *
 * The expected reminders come from the instants written here by hand, each with the local
 * wall time it stands for: a meeting is reminded iff its local date is the day. The test
 * checks every label against Intl (the sandbox's tz.ts), so a slip in the hand arithmetic
 * fails loudly instead of weakening the test; the worker's window code is never asked.
 *
 * Transitions used (tzdata 2026c, checked with Intl for 2026 and 2027): zones whose local
 * midnight is skipped in 2026 are America/Havana (03-08), Asia/Beirut and Atlantic/Azores
 * (03-29), Africa/Cairo (04-24) and America/Santiago (09-06); midnight is repeated in
 * Atlantic/Azores (10-25) and America/Havana (11-01). America/Asuncion has had no DST since
 * Paraguay kept UTC-3 in October 2024: it is the night's plain control.
 */

/** [UTC instant, local wall time it is "YYYY-MM-DD HH:mm" (1st/2nd for a repeated hour)]. */
type Ev = [utc: string, local: string];
interface Zone {
  zone: string;
  /** What this zone's day shows. */
  what: string;
  events: Ev[];
}
interface Night {
  /** The local day D whose reminders are sent on the evening before. */
  day: string;
  /** CLOCK_START: the evening of D-1 in every zone of the night (checked below). */
  clock: string;
  zones: Zone[];
}

const NIGHTS: Night[] = [
  {
    day: "2026-03-08",
    clock: "2026-03-07T23:30:00Z",
    zones: [
      {
        zone: "America/New_York",
        what: "spring forward 02:00 → 03:00, 23 h",
        events: [
          ["2026-03-08T04:59:00Z", "2026-03-07 23:59"],
          ["2026-03-08T05:00:00Z", "2026-03-08 00:00"],
          ["2026-03-08T05:01:00Z", "2026-03-08 00:01"],
          ["2026-03-08T06:59:00Z", "2026-03-08 01:59"],
          ["2026-03-08T07:00:00Z", "2026-03-08 03:00"],
          ["2026-03-09T03:59:00Z", "2026-03-08 23:59"],
          ["2026-03-09T04:00:00Z", "2026-03-09 00:00"],
          ["2026-03-09T04:01:00Z", "2026-03-09 00:01"],
        ],
      },
      {
        zone: "America/Havana",
        what: "midnight skipped 00:00 → 01:00: the day starts at 01:00, 23 h",
        events: [
          ["2026-03-08T04:30:00Z", "2026-03-07 23:30"],
          ["2026-03-08T04:59:00Z", "2026-03-07 23:59"],
          ["2026-03-08T05:00:00Z", "2026-03-08 01:00"],
          ["2026-03-08T05:01:00Z", "2026-03-08 01:01"],
          ["2026-03-09T03:59:00Z", "2026-03-08 23:59"],
          ["2026-03-09T04:00:00Z", "2026-03-09 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-03-29",
    clock: "2026-03-28T19:30:00Z",
    zones: [
      {
        zone: "Europe/Berlin",
        what: "spring forward 02:00 → 03:00, 23 h",
        events: [
          ["2026-03-28T22:59:00Z", "2026-03-28 23:59"],
          ["2026-03-28T23:00:00Z", "2026-03-29 00:00"],
          ["2026-03-28T23:01:00Z", "2026-03-29 00:01"],
          ["2026-03-29T00:59:00Z", "2026-03-29 01:59"],
          ["2026-03-29T01:00:00Z", "2026-03-29 03:00"],
          ["2026-03-29T21:59:00Z", "2026-03-29 23:59"],
          ["2026-03-29T22:00:00Z", "2026-03-30 00:00"],
          ["2026-03-29T22:01:00Z", "2026-03-30 00:01"],
        ],
      },
      {
        zone: "Atlantic/Azores",
        what: "midnight skipped 00:00 → 01:00, 23 h",
        events: [
          ["2026-03-29T00:30:00Z", "2026-03-28 23:30"],
          ["2026-03-29T00:59:00Z", "2026-03-28 23:59"],
          ["2026-03-29T01:00:00Z", "2026-03-29 01:00"],
          ["2026-03-29T01:01:00Z", "2026-03-29 01:01"],
          ["2026-03-29T23:59:00Z", "2026-03-29 23:59"],
          ["2026-03-30T00:00:00Z", "2026-03-30 00:00"],
        ],
      },
      {
        zone: "Asia/Beirut",
        what: "midnight skipped 00:00 → 01:00, 23 h",
        events: [
          ["2026-03-28T21:30:00Z", "2026-03-28 23:30"],
          ["2026-03-28T21:59:00Z", "2026-03-28 23:59"],
          ["2026-03-28T22:00:00Z", "2026-03-29 01:00"],
          ["2026-03-28T22:01:00Z", "2026-03-29 01:01"],
          ["2026-03-29T20:59:00Z", "2026-03-29 23:59"],
          ["2026-03-29T21:00:00Z", "2026-03-30 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-04-05",
    clock: "2026-04-04T10:30:00Z",
    zones: [
      {
        zone: "Australia/Sydney",
        what: "fall back 03:00 → 02:00, 25 h",
        events: [
          ["2026-04-04T12:59:00Z", "2026-04-04 23:59"],
          ["2026-04-04T13:00:00Z", "2026-04-05 00:00"],
          ["2026-04-04T13:01:00Z", "2026-04-05 00:01"],
          ["2026-04-04T15:30:00Z", "2026-04-05 02:30 1st"],
          ["2026-04-04T16:30:00Z", "2026-04-05 02:30 2nd"],
          ["2026-04-05T13:59:00Z", "2026-04-05 23:59"],
          ["2026-04-05T14:00:00Z", "2026-04-06 00:00"],
          ["2026-04-05T14:01:00Z", "2026-04-06 00:01"],
        ],
      },
      {
        zone: "Australia/Lord_Howe",
        what: "fall back half an hour 02:00 → 01:30, 24.5 h",
        events: [
          ["2026-04-04T12:59:00Z", "2026-04-04 23:59"],
          ["2026-04-04T13:00:00Z", "2026-04-05 00:00"],
          ["2026-04-04T14:45:00Z", "2026-04-05 01:45 1st"],
          ["2026-04-04T15:15:00Z", "2026-04-05 01:45 2nd"],
          ["2026-04-05T13:29:00Z", "2026-04-05 23:59"],
          ["2026-04-05T13:30:00Z", "2026-04-06 00:00"],
        ],
      },
      {
        zone: "America/Santiago",
        what: "fall back at midnight 24:00 → 23:00 the evening before: the day starts after the repeated hour",
        events: [
          ["2026-04-05T02:30:00Z", "2026-04-04 23:30 1st"],
          ["2026-04-05T03:30:00Z", "2026-04-04 23:30 2nd"],
          ["2026-04-05T03:59:00Z", "2026-04-04 23:59 2nd"],
          ["2026-04-05T04:00:00Z", "2026-04-05 00:00"],
          ["2026-04-05T04:01:00Z", "2026-04-05 00:01"],
          ["2026-04-06T03:59:00Z", "2026-04-05 23:59"],
          ["2026-04-06T04:00:00Z", "2026-04-06 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-09-06",
    clock: "2026-09-05T22:30:00Z",
    zones: [
      {
        zone: "America/Santiago",
        what: "midnight skipped 00:00 → 01:00, 23 h",
        events: [
          ["2026-09-06T03:30:00Z", "2026-09-05 23:30"],
          ["2026-09-06T03:59:00Z", "2026-09-05 23:59"],
          ["2026-09-06T04:00:00Z", "2026-09-06 01:00"],
          ["2026-09-06T04:01:00Z", "2026-09-06 01:01"],
          ["2026-09-07T02:59:00Z", "2026-09-06 23:59"],
          ["2026-09-07T03:00:00Z", "2026-09-07 00:00"],
          ["2026-09-07T03:01:00Z", "2026-09-07 00:01"],
        ],
      },
      {
        zone: "America/Asuncion",
        what: "no DST (UTC-3 all year): a plain 24 h day next to Santiago's 23 h one",
        events: [
          ["2026-09-06T02:59:00Z", "2026-09-05 23:59"],
          ["2026-09-06T03:00:00Z", "2026-09-06 00:00"],
          ["2026-09-07T02:59:00Z", "2026-09-06 23:59"],
          ["2026-09-07T03:00:00Z", "2026-09-07 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-10-04",
    clock: "2026-10-03T08:30:00Z",
    zones: [
      {
        zone: "Australia/Sydney",
        what: "spring forward 02:00 → 03:00, 23 h",
        events: [
          ["2026-10-03T13:59:00Z", "2026-10-03 23:59"],
          ["2026-10-03T14:00:00Z", "2026-10-04 00:00"],
          ["2026-10-03T14:01:00Z", "2026-10-04 00:01"],
          ["2026-10-03T15:59:00Z", "2026-10-04 01:59"],
          ["2026-10-03T16:00:00Z", "2026-10-04 03:00"],
          ["2026-10-04T12:59:00Z", "2026-10-04 23:59"],
          ["2026-10-04T13:00:00Z", "2026-10-05 00:00"],
          ["2026-10-04T13:01:00Z", "2026-10-05 00:01"],
        ],
      },
      {
        zone: "Australia/Lord_Howe",
        what: "spring forward half an hour 02:00 → 02:30, 23.5 h",
        events: [
          ["2026-10-03T13:29:00Z", "2026-10-03 23:59"],
          ["2026-10-03T13:30:00Z", "2026-10-04 00:00"],
          ["2026-10-03T15:29:00Z", "2026-10-04 01:59"],
          ["2026-10-03T15:30:00Z", "2026-10-04 02:30"],
          ["2026-10-04T12:59:00Z", "2026-10-04 23:59"],
          ["2026-10-04T13:00:00Z", "2026-10-05 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-10-25",
    clock: "2026-10-24T18:30:00Z",
    zones: [
      {
        zone: "Europe/Berlin",
        what: "fall back 03:00 → 02:00, 25 h",
        events: [
          ["2026-10-24T21:59:00Z", "2026-10-24 23:59"],
          ["2026-10-24T22:00:00Z", "2026-10-25 00:00"],
          ["2026-10-24T22:01:00Z", "2026-10-25 00:01"],
          ["2026-10-25T00:30:00Z", "2026-10-25 02:30 1st"],
          ["2026-10-25T01:30:00Z", "2026-10-25 02:30 2nd"],
          ["2026-10-25T22:59:00Z", "2026-10-25 23:59"],
          ["2026-10-25T23:00:00Z", "2026-10-26 00:00"],
          ["2026-10-25T23:01:00Z", "2026-10-26 00:01"],
        ],
      },
      {
        zone: "Atlantic/Azores",
        what: "midnight repeated 01:00 → 00:00: the day starts at the first midnight, 25 h",
        events: [
          ["2026-10-24T23:59:00Z", "2026-10-24 23:59"],
          ["2026-10-25T00:00:00Z", "2026-10-25 00:00 1st"],
          ["2026-10-25T00:30:00Z", "2026-10-25 00:30 1st"],
          ["2026-10-25T01:00:00Z", "2026-10-25 00:00 2nd"],
          ["2026-10-25T01:30:00Z", "2026-10-25 00:30 2nd"],
          ["2026-10-26T00:59:00Z", "2026-10-25 23:59"],
          ["2026-10-26T01:00:00Z", "2026-10-26 00:00"],
        ],
      },
      {
        zone: "Asia/Beirut",
        what: "fall back at midnight 24:00 → 23:00 the evening before: the day starts after the repeated hour",
        events: [
          ["2026-10-24T20:30:00Z", "2026-10-24 23:30 1st"],
          ["2026-10-24T21:30:00Z", "2026-10-24 23:30 2nd"],
          ["2026-10-24T21:59:00Z", "2026-10-24 23:59 2nd"],
          ["2026-10-24T22:00:00Z", "2026-10-25 00:00"],
          ["2026-10-25T21:59:00Z", "2026-10-25 23:59"],
          ["2026-10-25T22:00:00Z", "2026-10-26 00:00"],
        ],
      },
    ],
  },
  {
    day: "2026-11-01",
    clock: "2026-10-31T22:30:00Z",
    zones: [
      {
        zone: "America/New_York",
        what: "fall back 02:00 → 01:00, 25 h",
        events: [
          ["2026-11-01T03:59:00Z", "2026-10-31 23:59"],
          ["2026-11-01T04:00:00Z", "2026-11-01 00:00"],
          ["2026-11-01T04:01:00Z", "2026-11-01 00:01"],
          ["2026-11-01T05:30:00Z", "2026-11-01 01:30 1st"],
          ["2026-11-01T06:30:00Z", "2026-11-01 01:30 2nd"],
          ["2026-11-02T04:59:00Z", "2026-11-01 23:59"],
          ["2026-11-02T05:00:00Z", "2026-11-02 00:00"],
          ["2026-11-02T05:01:00Z", "2026-11-02 00:01"],
        ],
      },
      {
        zone: "America/Havana",
        what: "midnight repeated 01:00 → 00:00: the day starts at the first midnight, 25 h",
        events: [
          ["2026-11-01T03:59:00Z", "2026-10-31 23:59"],
          ["2026-11-01T04:00:00Z", "2026-11-01 00:00 1st"],
          ["2026-11-01T04:30:00Z", "2026-11-01 00:30 1st"],
          ["2026-11-01T05:00:00Z", "2026-11-01 00:00 2nd"],
          ["2026-11-01T05:30:00Z", "2026-11-01 00:30 2nd"],
          ["2026-11-02T04:59:00Z", "2026-11-01 23:59"],
          ["2026-11-02T05:00:00Z", "2026-11-02 00:00"],
        ],
      },
    ],
  },
];

const p2 = (n: number) => String(n).padStart(2, "0");
/** "YYYY-MM-DD HH:mm" of an instant in a zone, by Intl (the sandbox's tz.ts). */
function wall(zone: string, ms: number): string {
  const p = localParts(zone, ms);
  return `${p.y}-${p2(p.m)}-${p2(p.d)} ${p2(p.hh)}:${p2(p.mm)}`;
}
const ms = (iso: string) => Date.parse(iso);
/** The meeting is reminded iff its local date (written by hand, checked by Intl) is the day. */
const inDay = (ev: Ev, day: string) => ev[1].startsWith(`${day} `);

describe("the hand-written DST instants", () => {
  it.each(NIGHTS.flatMap((n) => n.zones.map((z) => [n.day, z.zone, z] as const)))(
    "%s %s: every instant is the local time it claims",
    (_day, _zone, z) => {
      for (const [utc, local] of z.events) {
        expect(wall(z.zone, ms(utc)), `${utc} in ${z.zone}`).toBe(local.slice(0, 16));
        // "1st"/"2nd": the same wall time an hour (or half an hour) apart.
        if (local.endsWith(" 2nd")) {
          const first = z.events.find((e) => e[1] === local.replace(/ 2nd$/, " 1st"));
          if (first) expect(ms(utc) - ms(first[0])).toBeGreaterThanOrEqual(30 * 60_000);
        }
      }
    },
  );

  it.each(NIGHTS.map((n) => [n.day, n] as const))(
    "%s: the clock starts on the evening before, in every zone, well before its midnight",
    (_day, n) => {
      for (const z of n.zones) {
        const local = wall(z.zone, ms(n.clock));
        expect(local.slice(0, 10), z.zone).toBe(addDays(n.day, -1));
        // At least two hours of the previous day left, whatever the machine's load.
        expect(wall(z.zone, ms(n.clock) + 2 * 3_600_000).slice(0, 10), z.zone).toBe(addDays(n.day, -1));
      }
    },
  );
});

describe("DST nights through real worker processes and their own scheduler tick", () => {
  const logRoot = mkdtempSync(join(tmpdir(), "dst-nights-"));
  let db: Awaited<ReturnType<typeof testPrisma>>;
  beforeAll(async () => {
    db = await testPrisma();
  });

  it.each(NIGHTS.map((n) => [n.day, n.zones.map((z) => z.zone).join(", "), n] as const))(
    "%s (%s): exactly the meetings starting in the local day get a reminder",
    async (_day, _zones, night) => {
      const start = ms(night.clock);
      const sandbox = await startSandbox({ now: clockFrom(start), limits: { sendsPerSecond: 0 } });
      const prefix = uniqueId("dst")
        .replace(/[^A-Za-z0-9_-]/g, "")
        .slice(0, 40);
      const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
      const queue = createRunsQueue(redis, { prefix, attempts: 3 });
      const logDir = join(logRoot, night.day);
      const fleet = new WorkerFleet({
        count: 1,
        logDir,
        env: {
          // CLOCK_START is refused with NODE_ENV=production, the fleet's default.
          NODE_ENV: "test",
          CLOCK_START: night.clock,
          DATABASE_URL: testDatabaseUrl(),
          REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
          NYLAS_API_KEY: sandbox.apiKey,
          NYLAS_API_URI: sandbox.url,
          QUEUE_PREFIX: prefix,
          SCHEDULER_EVERY_MS: "1000",
          RATE_SENDS_PER_SEC_GOOGLE: "50",
        },
      });
      try {
        // One grant per zone, due at its local hour when the clock starts; and one more in the
        // first zone whose send hour is two hours later: nothing of it may go out tonight.
        const title = new Map<string, { zone: string; ev: Ev; grantId: string; guest: string }>();
        const due: { id: string; zone: string; sendHour: number }[] = [];
        const addGrant = (zone: string) =>
          sandbox.addGrant({
            email: `${uniqueId("dst")}@example.com`.toLowerCase(),
            timezone: zone,
            provider: "google",
          });
        night.zones.forEach((z, zi) => {
          const g = addGrant(z.zone);
          due.push({ id: g.id, zone: z.zone, sendHour: localParts(z.zone, start).hh });
          z.events.forEach((ev, ei) => {
            const key = `dst-${zi}-${ei}`;
            const guest = `guest-${zi}-${ei}@guests.test`;
            const s = ms(ev[0]) / 1000;
            sandbox.addEvent(g.id, {
              title: key,
              when: { start_time: s, end_time: s + 1800, start_timezone: z.zone },
              participants: [
                { email: g.email, status: "yes" },
                { email: guest, status: "yes" },
              ],
              // Deserves a reminder on its own local day; which day that is, the sandbox's
              // expectedReminders decides with its own window (compared below).
              expected: { remind: true, recipients: [guest] },
            });
            title.set(key, { zone: z.zone, ev, grantId: g.id, guest });
          });
        });
        const first = night.zones[0]!;
        const late = addGrant(first.zone);
        const lateHour = localParts(first.zone, start).hh + 2;
        const noon = first.events.find((e) => inDay(e, night.day))!;
        sandbox.addEvent(late.id, {
          title: "late-grant",
          when: { start_time: ms(noon[0]) / 1000, end_time: ms(noon[0]) / 1000 + 1800 },
          participants: [{ email: late.email }, { email: "late-guest@guests.test" }],
        });

        const nylas = new NylasApi({ apiKey: sandbox.apiKey, apiUri: sandbox.url, timeout: 10 });
        await syncGrants(db, nylas, createLogger({ level: "silent" }), { defaultTimeZone: "UTC", defaultSendHour: 18 });
        for (const g of due) await db.grant.update({ where: { id: g.id }, data: { sendHour: g.sendHour } });
        await db.grant.update({ where: { id: late.id }, data: { sendHour: lateHour } });
        expect(
          (await db.grant.findMany({ where: { id: { in: sandbox.grantIds() } }, select: { timeZone: true } }))
            .map((g) => g.timeZone)
            .sort(),
        ).toEqual([...night.zones.map((z) => z.zone), first.zone].sort());

        fleet.startAll();
        const ids = due.map((g) => g.id);
        const runsOf = async () =>
          (
            await db.run.findMany({
              where: { grantId: { in: sandbox.grantIds() } },
              select: { grantId: true, day: true, status: true },
            })
          )
            .map((r) => [r.grantId, r.day, r.status])
            .sort();
        // The worker's own tick, once it has looked at every grant (the first after start-up),
        // chose the day after the clock's local date, and only for the grants whose send
        // hour has passed. It logs after writing the runs, so a wrong day fails here at once.
        const logLines = () =>
          readdirSync(logDir).flatMap((f) =>
            readFileSync(join(logDir, f), "utf8")
              .split("\n")
              .filter((l) => l.startsWith("{"))
              .map((l) => JSON.parse(l) as Record<string, unknown>),
          );
        await vi.waitFor(
          () =>
            expect(logLines().some((l) => l.msg === "scheduler tick" && (l.scanned as number) >= ids.length + 1)).toBe(
              true,
            ),
          { timeout: 120_000, interval: 100 },
        );
        expect((await runsOf()).map(([id, day]) => [id, day])).toEqual(ids.map((id) => [id, night.day]).sort());
        await vi.waitFor(
          async () =>
            expect(await db.run.count({ where: { grantId: { in: ids }, status: "completed" } })).toBe(ids.length),
          { timeout: 120_000, interval: 250 },
        );
        await waitForIdle(queue, 60_000);
        await fleet.stopAll(20_000);
        expect(await runsOf()).toEqual(ids.map((id) => [id, night.day, "completed"]).sort());

        // The sandbox's sent log: exactly the meetings starting in the local day, once each.
        const sent = sandbox.sentMessages().map((m) => ({
          key: /dst-\d+-\d+|late-grant/.exec(m.subject)?.[0] ?? m.subject,
          subject: m.subject,
          to: m.to,
          grantId: m.grantId,
        }));
        const expected = [...title.entries()].filter(([, t]) => inDay(t.ev, night.day)).map(([key]) => key);
        expect(sent.map((m) => m.key).sort()).toEqual(expected.sort());
        for (const m of sent) {
          const t = title.get(m.key)!;
          expect(m.grantId).toBe(t.grantId);
          expect(m.to).toEqual([t.guest]);
          // The reminder's wording follows the same clock: the meeting is tomorrow.
          expect(m.subject, `${t.zone} ${t.ev[1]}`).toMatch(/ tomorrow at /);
        }
        // The sandbox's seed code, with its own window of the day, agrees with the hand-written set.
        const seedView = sandbox.expectedReminders({ grantIds: ids, day: night.day }).map((r) => r.title);
        expect(seedView.sort()).toEqual(expected.sort());
      } finally {
        await fleet.stopAll(5000);
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
        await redis.quit();
        await deleteGrants(db, sandbox.grantIds());
        await sandbox.close();
      }
    },
    240_000,
  );
});
