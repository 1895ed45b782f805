import type { Redis } from "ioredis";
import { COUNTERS, decodeField, HISTOGRAMS, labelsAllowed, metricsKey, TICK_FIELDS } from "./catalog.js";
import type { CounterName, HistogramName } from "./catalog.js";

export interface CounterSample {
  labels: Record<string, string>;
  value: number;
}

export interface HistogramSeries {
  labels: Record<string, string>;
  /** Non-cumulative count per `le` as written; the exposition adds them up. */
  buckets: Map<string, number>;
  sumMs: number;
}

export interface RedisCounts {
  counters: Map<CounterName, CounterSample[]>;
  histograms: Map<HistogramName, HistogramSeries[]>;
  tick?: { atMs: number; ms: number; enqueued: number };
}

/** Turns the hash the workers write into samples; fields not in the catalog are ignored. Pure. */
export function parseCounts(hash: Record<string, string>): RedisCounts {
  const out: RedisCounts = { counters: new Map(), histograms: new Map() };
  const series = new Map<string, HistogramSeries>();
  for (const [field, raw] of Object.entries(hash)) {
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    const f = decodeField(field);
    if (!f) continue;
    if (f.name in COUNTERS) {
      const name = f.name as CounterName;
      if (!labelsAllowed(COUNTERS[name].labels, f.labels)) continue;
      const list = out.counters.get(name) ?? [];
      list.push({ labels: f.labels, value });
      out.counters.set(name, list);
      continue;
    }
    const m = /^(.*)_(bucket|sum_ms)$/.exec(f.name);
    if (!m || !(m[1]! in HISTOGRAMS)) continue;
    const name = m[1] as HistogramName;
    const { le, ...labels } = f.labels;
    if (!labelsAllowed(HISTOGRAMS[name].labels, labels)) continue;
    const bounds: readonly number[] = HISTOGRAMS[name].buckets;
    if (m[2] === "bucket" && !(le === "+Inf" || bounds.includes(Number(le)))) continue;
    if (m[2] === "sum_ms" && le !== undefined) continue;
    const key = `${name}|${JSON.stringify(labels, Object.keys(labels).sort())}`;
    let s = series.get(key);
    if (!s) {
      series.set(key, (s = { labels, buckets: new Map(), sumMs: 0 }));
      const list = out.histograms.get(name) ?? [];
      list.push(s);
      out.histograms.set(name, list);
    }
    if (m[2] === "bucket") s.buckets.set(le!, value);
    else s.sumMs = value;
  }
  const at = Number(hash[TICK_FIELDS.at]);
  if (Number.isFinite(at) && at > 0) {
    out.tick = { atMs: at, ms: Number(hash[TICK_FIELDS.ms]) || 0, enqueued: Number(hash[TICK_FIELDS.enqueued]) || 0 };
  }
  return out;
}

export async function readCounts(redis: Pick<Redis, "hgetall">, queuePrefix: string): Promise<RedisCounts> {
  return parseCounts(await redis.hgetall(metricsKey(queuePrefix)));
}
