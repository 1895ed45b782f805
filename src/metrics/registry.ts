import { Counter, Gauge, Registry, type Metric } from "prom-client";
import { COUNTERS, HISTOGRAMS, labelCombinations, METRIC_PREFIX, type CounterName, type HistogramName } from "./catalog.js";
import { DAY_LABELS } from "./day-summary.js";
import { QUEUE_STATES } from "./queue-read.js";
import type { Snapshot } from "./snapshot.js";

type Fill<T> = (metric: T, snapshot: Snapshot) => void;

/**
 * The web dyno's registry (one per server, not prom-client's global one). Every metric is a
 * collector: at scrape time it awaits the shared snapshot, then clears and refills itself in
 * one synchronous step, so overlapping scrapes never add their values together.
 */
export function createMetricsRegistry(load: () => Promise<Snapshot>): Registry {
  const registry = new Registry();
  const name = (n: string) => METRIC_PREFIX + n;

  const gauge = <L extends string>(n: string, help: string, labelNames: readonly L[], fill: Fill<Gauge<L>>) =>
    new Gauge<L>({
      name: name(n),
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await load();
        this.reset();
        fill(this, s);
      },
    });

  gauge("metrics_source_up", "1 when the source answered this scrape; 0 leaves its metrics out.", ["source"], (g, s) => {
    g.set({ source: "postgres" }, s.up.postgres ? 1 : 0);
    g.set({ source: "redis" }, s.up.redis ? 1 : 0);
  });

  // Postgres: days relative to each grant's own zone (see day-summary.ts).
  gauge("runs", "Runs of each grant's current and next local day, by status.", ["day", "status"], (g, s) => {
    for (const day of DAY_LABELS) for (const [status, v] of Object.entries(s.days?.runs[day] ?? {})) g.set({ day, status }, v);
  });
  gauge("reminders", "Reminders of those runs by outcome (sent, failed, skipped meetings).", ["day", "outcome"], (g, s) => {
    for (const day of DAY_LABELS) for (const [outcome, v] of Object.entries(s.days?.reminders[day] ?? {})) g.set({ day, outcome }, v);
  });
  gauge("reminders_skipped", "Meetings of those runs passed over, by reason.", ["day", "reason"], (g, s) => {
    for (const day of DAY_LABELS) for (const [reason, v] of Object.entries(s.days?.skipped[day] ?? {})) g.set({ day, reason }, v);
  });
  gauge("grants", "Grants by status and whether an operator left them enabled.", ["status", "enabled"], (g, s) => {
    for (const [status, c] of Object.entries(s.days?.grants ?? {})) {
      g.set({ status, enabled: "true" }, c.enabled);
      g.set({ status, enabled: "false" }, c.disabled);
    }
  });
  const zones = (n: string, help: string, pick: (z: { due: number; settled: number; sent: number }) => number) =>
    gauge(n, help, ["zone"], (g, s) => {
      for (const [zone, z] of s.days?.zones ?? []) g.set({ zone }, pick(z));
    });
  zones("zone_due_grants", "Valid, enabled grants of the zone whose send hour has passed today.", (z) => z.due);
  zones("zone_settled_runs", "Runs of the zone's next local day that are completed or skipped.", (z) => z.settled);
  zones("zone_reminders_sent", "Reminders sent by the runs of the zone's next local day.", (z) => z.sent);

  // Redis: the queues as BullMQ keeps them.
  gauge("queue_jobs", "Jobs of each queue by state.", ["queue", "state"], (g, s) => {
    for (const q of s.queues ?? []) for (const state of QUEUE_STATES) g.set({ queue: q.name, state }, q.counts[state]);
  });
  gauge("queue_oldest_waiting_seconds", "How long the queue's oldest waiting job has waited (0: none).", ["queue"], (g, s) => {
    for (const q of s.queues ?? []) g.set({ queue: q.name }, q.oldestWaitingS);
  });

  // Redis: what the workers counted. Before the first tick these are absent, not 0.
  const tick = (n: string, help: string, pick: (t: NonNullable<NonNullable<Snapshot["counts"]>["tick"]>, s: Snapshot) => number) =>
    registry.registerMetric(
      samples(n, help, "gauge", load, (s) => (s.counts?.tick ? [{ metricName: METRIC_PREFIX + n, labels: {}, value: pick(s.counts.tick, s) }] : [])),
    );
  tick("scheduler_last_tick_timestamp_seconds", "When the last scheduler tick finished (Unix seconds).", (t) => t.atMs / 1000);
  tick("scheduler_seconds_since_last_tick", "Seconds since the last scheduler tick finished.", (t, s) => Math.max(0, s.now.getTime() - t.atMs) / 1000);
  tick("scheduler_last_tick_duration_seconds", "How long the last scheduler tick took.", (t) => t.ms / 1000);
  tick("scheduler_last_tick_enqueued", "Jobs the last scheduler tick added.", (t) => t.enqueued);

  for (const [n, spec] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
    new Counter<string>({
      name: name(n),
      help: spec.help,
      labelNames: spec.labels,
      registers: [registry],
      async collect() {
        const s = await load();
        this.reset();
        if (!s.counts) return;
        // Every combination shows, at 0 until its first event, so rate() and alerts see it.
        const seen = new Map((s.counts.counters.get(n) ?? []).map((c) => [JSON.stringify(c.labels, spec.labels as unknown as string[]), c.value]));
        for (const labels of labelCombinations(spec.labels)) this.inc(labels, seen.get(JSON.stringify(labels, spec.labels as unknown as string[])) ?? 0);
      },
    });
  }

  for (const n of Object.keys(HISTOGRAMS) as HistogramName[]) {
    registry.registerMetric(samples(n, HISTOGRAMS[n].help, "histogram", load, (s) => histogramSamples(n, s)));
  }
  return registry;
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric that hands the registry its samples directly, in the shape the registry formats.
 * prom-client's own classes cannot leave out an unlabelled gauge (it shows 0, which would
 * read as "ticked at 1970") nor set a histogram's buckets, only observe values one by one.
 */
function samples(n: string, help: string, type: "gauge" | "histogram", load: () => Promise<Snapshot>, pick: (s: Snapshot) => Sample[]): Metric {
  const name = METRIC_PREFIX + n;
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    async get() {
      return { name, help, type, aggregator: "sum", values: pick(await load()) };
    },
  };
  return metric as unknown as Metric;
}

/** Cumulative `le` buckets, sum and count of a histogram the workers keep in Redis. */
function histogramSamples(n: HistogramName, s: Snapshot): Sample[] {
  const spec = HISTOGRAMS[n];
  const full = METRIC_PREFIX + n;
  const values: Sample[] = [];
  for (const series of s.counts?.histograms.get(n) ?? []) {
    // Labels in the catalog's order, as the counters show theirs.
    const labels = Object.fromEntries(spec.labels.map((l) => [l, series.labels[l] ?? ""]));
    let total = 0;
    for (const le of [...spec.buckets.map(String), "+Inf"]) {
      total += series.buckets.get(le) ?? 0;
      values.push({ metricName: `${full}_bucket`, labels: { ...labels, le }, value: total });
    }
    values.push({ metricName: `${full}_sum`, labels, value: series.sumMs / 1000 });
    values.push({ metricName: `${full}_count`, labels, value: total });
  }
  return values;
}
