import { Counter, Gauge, Registry, type Metric } from "prom-client";
import { COUNTERS, HISTOGRAMS, labelCombinations, METRIC_PREFIX } from "./catalog.js";
import type { CounterName, HistogramName, LabelName } from "./catalog.js";
import { DAY_LABELS, type DayLabel, type ZoneSummary } from "./day-summary.js";
import { QUEUE_STATES } from "./queue-read.js";
import type { RedisCounts } from "./redis-read.js";
import type { Snapshot } from "./snapshot.js";

type Load = () => Promise<Snapshot>;
type Tick = NonNullable<RedisCounts["tick"]>;
type Fill<L extends string> = (g: Gauge<L>, s: Snapshot) => void;
type PerDay = (s: Snapshot, day: DayLabel) => Record<string, number>;

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * The web dyno's registry (one per server, not prom-client's global one). Every metric is a
 * collector: at scrape time it awaits the shared snapshot, then clears and refills itself in
 * one synchronous step, so overlapping scrapes never add their values together.
 */
export function createMetricsRegistry(load: Load): Registry {
  const registry = new Registry();

  const gauge = <L extends string>(n: string, help: string, labelNames: readonly L[], fill: Fill<L>) =>
    new Gauge<L>({
      name: METRIC_PREFIX + n,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await load();
        this.reset();
        fill(this, s);
      },
    });

  gauge("metrics_source_up", "1: the source answered this scrape; 0: its metrics are left out.", ["source"], (g, s) => {
    g.set({ source: "postgres" }, s.up.postgres ? 1 : 0);
    g.set({ source: "redis" }, s.up.redis ? 1 : 0);
  });

  // Postgres: days relative to each grant's own zone (see day-summary.ts).
  const byDay = (n: string, help: string, label: string, pick: PerDay) =>
    gauge(n, help, ["day", label], (g, s) => {
      if (!s.days) return;
      for (const day of DAY_LABELS) {
        for (const [value, v] of Object.entries(pick(s, day))) g.set({ day, [label]: value }, v);
      }
    });
  byDay("runs", "Runs of each grant's current and next local day, by status.", "status", (s, d) => s.days!.runs[d]);
  const outcomes = "Reminders of those runs by outcome (sent, failed; skipped: meetings passed over).";
  byDay("reminders", outcomes, "outcome", (s, d) => s.days!.reminders[d]);
  byDay("reminders_skipped", "Meetings of those runs passed over, by reason.", "reason", (s, d) => s.days!.skipped[d]);

  gauge("grants", "Grants by status and whether an operator left them enabled.", ["status", "enabled"], (g, s) => {
    for (const [status, c] of Object.entries(s.days?.grants ?? {})) {
      g.set({ status, enabled: "true" }, c.enabled);
      g.set({ status, enabled: "false" }, c.disabled);
    }
  });

  const byZone = (n: string, help: string, pick: (z: ZoneSummary) => number) =>
    gauge(n, help, ["zone"], (g, s) => {
      for (const [zone, z] of s.days?.zones ?? []) g.set({ zone }, pick(z));
    });
  byZone("zone_due_grants", "Valid, enabled grants of the zone whose send hour has passed today.", (z) => z.due);
  byZone("zone_settled_runs", "Runs of the zone's next local day that are completed or skipped.", (z) => z.settled);
  byZone("zone_reminders_sent", "Reminders sent by the runs of the zone's next local day.", (z) => z.sent);

  // Redis: the queues as BullMQ keeps them.
  gauge("queue_jobs", "Jobs of each queue by state.", ["queue", "state"], (g, s) => {
    for (const q of s.queues ?? []) for (const state of QUEUE_STATES) g.set({ queue: q.name, state }, q.counts[state]);
  });
  gauge("queue_oldest_waiting_seconds", "How long the oldest waiting job has waited (0: none).", ["queue"], (g, s) => {
    for (const q of s.queues ?? []) g.set({ queue: q.name }, q.oldestWaitingS);
  });

  // Redis: what the workers counted. Before the first tick these are absent, not 0.
  const tick = (n: string, help: string, pick: (t: Tick, s: Snapshot) => number) =>
    registry.registerMetric(
      samples(n, help, "gauge", load, (s) => {
        const t = s.counts?.tick;
        return t ? [{ metricName: METRIC_PREFIX + n, labels: {}, value: pick(t, s) }] : [];
      }),
    );
  tick("scheduler_last_tick_timestamp_seconds", "When the last scheduler tick ended (Unix s).", (t) => t.atMs / 1000);
  tick(
    "scheduler_seconds_since_last_tick",
    "Seconds since the last scheduler tick finished.",
    (t, s) => Math.max(0, s.now.getTime() - t.atMs) / 1000,
  );
  tick("scheduler_last_tick_duration_seconds", "How long the last scheduler tick took.", (t) => t.ms / 1000);
  tick("scheduler_last_tick_enqueued", "Jobs the last scheduler tick added.", (t) => t.enqueued);

  for (const n of Object.keys(COUNTERS) as CounterName[]) redisCounter(registry, n, load);
  for (const n of Object.keys(HISTOGRAMS) as HistogramName[]) {
    registry.registerMetric(samples(n, HISTOGRAMS[n].help, "histogram", load, (s) => histogramSamples(n, s)));
  }
  return registry;
}

/** A counter the workers keep in Redis. Every combination shows, at 0 until its first event. */
function redisCounter(registry: Registry, n: CounterName, load: Load): void {
  const spec = COUNTERS[n];
  const names = spec.labels as readonly LabelName[] as string[];
  const key = (labels: Record<string, string>) => JSON.stringify(labels, names);
  new Counter<string>({
    name: METRIC_PREFIX + n,
    help: spec.help,
    labelNames: names,
    registers: [registry],
    async collect() {
      const s = await load();
      this.reset();
      if (!s.counts) return;
      const seen = new Map((s.counts.counters.get(n) ?? []).map((c) => [key(c.labels), c.value]));
      for (const labels of labelCombinations(spec.labels)) this.inc(labels, seen.get(key(labels)) ?? 0);
    },
  });
}

/**
 * A metric that hands the registry its samples directly, in the shape the registry formats.
 * prom-client's own classes cannot leave out an unlabelled gauge (it shows 0, which would
 * read as "ticked at 1970") nor set a histogram's buckets, only observe values one by one.
 */
function samples(n: string, help: string, type: "gauge" | "histogram", load: Load, pick: (s: Snapshot) => Sample[]) {
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
