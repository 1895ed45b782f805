import { NylasApiError } from "nylas";
import { describe, expect, it } from "vitest";
import { bucketLabel, COUNTERS, decodeField, encodeField, histogramField } from "../../../src/metrics/catalog.js";
import { labelCombinations, labelsAllowed } from "../../../src/metrics/catalog.js";
import { candidateDays, summarize, type GrantRow, type RunRow } from "../../../src/metrics/day-summary.js";
import { errorOutcome, resultOutcome } from "../../../src/metrics/job-outcome.js";
import { failureSample } from "../../../src/metrics/nylas-failure.js";
import { waitingSince } from "../../../src/metrics/queue-read.js";
import { parseCounts } from "../../../src/metrics/redis-read.js";
import { createMetricsRegistry } from "../../../src/metrics/registry.js";
import type { Snapshot } from "../../../src/metrics/snapshot.js";
import { classifyError } from "../../../src/nylas/errors.js";

const apiError = (status: number, type: string) =>
  new NylasApiError({ requestId: "r", error: { type, message: "m" } } as never, status, "r");

describe("metric fields in Redis", () => {
  it("encode sorted labels and decode back", () => {
    const f = encodeField("nylas_rate_limited_total", { source: "provider", call: "send" });
    expect(f).toBe('nylas_rate_limited_total{call="send",source="provider"}');
    expect(decodeField(f)).toEqual({ name: "nylas_rate_limited_total", labels: { call: "send", source: "provider" } });
    const bucket = 'job_duration_seconds_bucket{le="+Inf",outcome="failed",queue="runs"}';
    expect(decodeField(bucket)?.labels.le).toBe("+Inf");
    expect(encodeField("x")).toBe("x");
  });

  it("refuse values that would need escaping, and odd fields", () => {
    expect(() => encodeField("x", { call: 'a",b="c' })).toThrow(RangeError);
    for (const bad of ["X{}", "x{a=b}", 'x{a="b"', 'x{a="b",}', "x y", 'x{a="grant:1"}']) {
      expect(decodeField(bad)).toBeUndefined();
    }
  });

  it("allow only listed label names and values (never a grant id)", () => {
    expect(labelsAllowed(["source", "call"], { source: "nylas", call: "events" })).toBe(true);
    expect(labelsAllowed(["source", "call"], { source: "nylas" })).toBe(false);
    expect(labelsAllowed(["source", "call"], { source: "nylas", call: "events", grant: "g1" })).toBe(false);
    expect(labelsAllowed(["call"], { call: "grant_1234" })).toBe(false);
  });

  it("list every combination of a counter's labels", () => {
    expect(labelCombinations(COUNTERS.nylas_rate_limited_total.labels)).toHaveLength(2 * 7);
    expect(labelCombinations([])).toEqual([{}]);
  });

  it("put a duration in the smallest bucket that holds it", () => {
    const b = [0.1, 1, 10];
    const les = [0, 0.1, 0.1001, 1, 9.99, 10, 11].map((v) => bucketLabel(b, v));
    expect(les).toEqual(["0.1", "0.1", "1", "1", "10", "10", "+Inf"]);
  });
});

describe("what a failed Nylas call counts as", () => {
  it.each([
    [apiError(429, "nylas_rate_limit_exceeded"), "nylas_rate_limited_total", { source: "nylas", call: "events" }],
    [apiError(429, "rate_limit_error"), "nylas_rate_limited_total", { source: "provider", call: "events" }],
    [apiError(401, "unauthorized"), "nylas_unauthorized_total", { call: "events" }],
    [apiError(503, "x"), "nylas_errors_total", { kind: "transient", call: "events" }],
    [apiError(400, "x"), "nylas_errors_total", { kind: "permanent", call: "events" }],
    [new TypeError("fetch failed"), "nylas_errors_total", { kind: "transient", call: "events" }],
  ])("%s", (err, name, labels) => {
    expect(failureSample("events", classifyError(err))).toEqual({ name, labels });
  });
});

describe("how a job attempt ended", () => {
  const named = (name: string) => Object.assign(new Error("x"), { name });
  it("from its result", () => {
    expect(resultOutcome({ status: "completed" })).toBe("completed");
    expect(resultOutcome({ status: "skipped" })).toBe("skipped");
    expect(resultOutcome(undefined)).toBe("completed");
  });
  it("from its error and the attempts left", () => {
    expect(errorOutcome(named("DelayedError"), 0, 3)).toBe("delayed");
    expect(errorOutcome(named("UnrecoverableError"), 0, 3)).toBe("failed");
    expect(errorOutcome(new Error("boom"), 0, 3)).toBe("retried");
    expect(errorOutcome(new Error("boom"), 2, 3)).toBe("failed");
    expect(errorOutcome(new Error("boom"), 0, undefined)).toBe("failed");
  });
});

describe("days relative to each zone", () => {
  // 10:00 UTC: already 00:00 on the 24th in Kiritimati (UTC+14), still 23:00 on the 22nd in Pago Pago (UTC-11).
  const now = new Date("2026-11-23T10:00:00Z");
  type Reasons = Record<string, number>;
  const run = (zone: string, day: string, status: string, runs = 1, sent = 0, reasons: Reasons = {}): RunRow => {
    const skipped = Object.values(reasons).reduce((a, b) => a + b, 0);
    return { zone, day, status, runs, sent, failed: 0, skipped, reasons };
  };

  it("bound the dates any zone can be on", () => {
    expect(candidateDays(now)).toEqual({ from: "2026-11-22", to: "2026-11-25" });
  });

  it("call a run current or next by its own zone's date", () => {
    const s = summarize(
      [],
      [
        run("Pacific/Kiritimati", "2026-11-24", "completed", 2, 5), // today there (UTC+14)
        run("Pacific/Kiritimati", "2026-11-25", "queued"), // tomorrow there
        run("Pacific/Pago_Pago", "2026-11-22", "completed", 3, 7), // today there (UTC-11)
        run("Pacific/Pago_Pago", "2026-11-23", "running"), // tomorrow there
        run("Europe/London", "2026-11-25", "queued"), // the day after tomorrow: neither
        run("Not/AZone", "2026-11-23", "completed"), // a zone Node does not know: neither
        run("Europe/London", "2026-11-24", "completed", 1, 0, { all_day: 2, from_the_future: 1, started: 3 }), // next there
      ],
      now,
    );
    expect(s.runs.current).toMatchObject({ completed: 5, queued: 0 });
    expect(s.runs.next).toMatchObject({ queued: 1, running: 1, completed: 1 });
    expect(s.reminders.current.sent).toBe(12);
    expect(s.skipped.next).toMatchObject({ all_day: 2, other: 1, cancelled: 0, started: 3, not_organizer: 0 });
  });

  it("count a zone's due grants by its local hour, and its settled next-day runs", () => {
    // 10:00 UTC = 11:00 in Paris, 05:00 in New York.
    const grants: GrantRow[] = [
      { zone: "Europe/Paris", hour: 9, status: "valid", enabled: true, provider: "google", n: 4 },
      { zone: "Europe/Paris", hour: 18, status: "valid", enabled: true, provider: "google", n: 10 },
      { zone: "Europe/Paris", hour: 9, status: "needs_reauth", enabled: true, provider: "google", n: 2 },
      { zone: "Europe/Paris", hour: 9, status: "valid", enabled: false, provider: "google", n: 1 },
      { zone: "America/New_York", hour: 18, status: "valid", enabled: true, provider: "google", n: 3 },
    ];
    const runs = [run("Europe/Paris", "2026-11-24", "completed", 3, 9), run("Europe/Paris", "2026-11-24", "failed", 1)];
    const s = summarize(grants, runs, now);
    expect(s.zones.get("Europe/Paris")).toEqual({ due: 4, settled: 3, sent: 9 });
    expect(s.zones.get("America/New_York")).toEqual({ due: 0, settled: 0, sent: 0 });
    expect(s.grants.valid).toEqual({ enabled: 17, disabled: 1 });
    expect(s.grants.needs_reauth).toEqual({ enabled: 2, disabled: 0 });
    expect(s.grants.revoked).toEqual({ enabled: 0, disabled: 0 });
  });
});

describe("queue ages", () => {
  it("count from when the job could first run, or its last attempt", () => {
    expect(waitingSince({ timestamp: 1000, opts: {}, processedOn: undefined })).toBe(1000);
    expect(waitingSince({ timestamp: 1000, opts: { delay: 500 }, processedOn: undefined })).toBe(1500);
    expect(waitingSince({ timestamp: 1000, opts: {}, processedOn: 9000 })).toBe(9000);
  });
});

describe("reading the workers' hash and exposing it", () => {
  const hash = {
    'nylas_rate_limited_total{call="send",source="provider"}': "7",
    'nylas_rate_limited_total{call="send",source="someone"}': "1", // not a listed value
    'nylas_rate_limited_total{call="send",grant="g1",source="nylas"}': "1", // not a listed label
    'nylas_unauthorized_total{call="events"}': "2",
    renamed_total: "5",
    [histogramField.bucket("job_duration_seconds", { queue: "runs", outcome: "completed" }, "0.05")]: "3",
    [histogramField.bucket("job_duration_seconds", { queue: "runs", outcome: "completed" }, "1")]: "1",
    [histogramField.bucket("job_duration_seconds", { queue: "runs", outcome: "completed" }, "+Inf")]: "1",
    // Not a bound:
    [histogramField.bucket("job_duration_seconds", { queue: "runs", outcome: "completed" }, "0.3")]: "9",
    [histogramField.sumMs("job_duration_seconds", { queue: "runs", outcome: "completed" })]: "400500",
    scheduler_last_tick_at_ms: "1790000000000",
    scheduler_last_tick_ms: "1500",
    scheduler_last_tick_enqueued: "12",
  };

  it("keeps only listed fields", () => {
    const c = parseCounts(hash);
    const limited = c.counters.get("nylas_rate_limited_total");
    expect(limited).toEqual([{ labels: { call: "send", source: "provider" }, value: 7 }]);
    expect(c.histograms.get("job_duration_seconds")).toHaveLength(1);
    expect(c.tick).toEqual({ atMs: 1790000000000, ms: 1500, enqueued: 12 });
  });

  it("writes Prometheus text with cumulative buckets and zeros for counters not yet moved", async () => {
    const up = { postgres: false, redis: true };
    const snapshot: Snapshot = { now: new Date(1790000030000), counts: parseCounts(hash), up };
    const text = await createMetricsRegistry(async () => snapshot).metrics();
    expect(text).toContain('nightly_nylas_rate_limited_total{source="provider",call="send"} 7');
    expect(text).toContain('nightly_nylas_rate_limited_total{source="nylas",call="send"} 0');
    expect(text).toContain('nightly_nylas_unauthorized_total{call="events"} 2');
    expect(text).not.toMatch(/someone|g1|renamed/);
    const h = 'queue="runs",outcome="completed"';
    expect(text).toContain(`nightly_job_duration_seconds_bucket{${h},le="0.025"} 0`);
    expect(text).toContain(`nightly_job_duration_seconds_bucket{${h},le="0.05"} 3`);
    expect(text).toContain(`nightly_job_duration_seconds_bucket{${h},le="1"} 4`);
    expect(text).toContain(`nightly_job_duration_seconds_bucket{${h},le="+Inf"} 5`);
    expect(text).toContain(`nightly_job_duration_seconds_sum{${h}} 400.5`);
    expect(text).toContain(`nightly_job_duration_seconds_count{${h}} 5`);
    expect(text).toContain("nightly_scheduler_seconds_since_last_tick 30");
    expect(text).toContain("nightly_scheduler_last_tick_duration_seconds 1.5");
    expect(text).toContain('nightly_metrics_source_up{source="postgres"} 0');
    // Postgres was down: its metrics are left out, not shown as zeros.
    expect(text).not.toMatch(/^nightly_runs\{/m);
  });
});
