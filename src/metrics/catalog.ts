/**
 * The metrics the worker dynos count and the web dyno exposes, and how each sample is named
 * as a field of one Redis hash (`<QUEUE_PREFIX>:metrics`). Pure: no I/O.
 *
 * Every label takes its value from a fixed list, so the number of series never depends on
 * the number of grants, and a field written by another version that is not listed here is
 * ignored rather than exposed.
 */

import type { NylasCall } from "../nylas/client.js";

/** Prefix of every exposed metric name. */
export const METRIC_PREFIX = "nightly_";

export const NYLAS_CALLS = [
  "events",
  "send",
  "sent_folder",
  "folders",
  "grant",
  "grants",
  "calendar",
] as const satisfies readonly NylasCall[];
export const QUEUE_NAMES = ["runs", "scheduler", "webhooks"] as const;

export const LABEL_VALUES = {
  /** Who answered 429: Nylas' own limiter or the mail/calendar provider behind it. */
  source: ["nylas", "provider"],
  /** Which Nylas call failed (src/nylas/client.ts). */
  call: NYLAS_CALLS,
  /** Failures other than 401 and 429 (src/nylas/errors.ts). */
  kind: ["transient", "permanent", "scope"],
  queue: QUEUE_NAMES,
  /** How one attempt of a job ended. */
  outcome: ["completed", "skipped", "delayed", "retried", "failed"],
} as const;

export type LabelName = keyof typeof LABEL_VALUES;
export type Labels = Partial<Record<LabelName, string>>;

export interface CounterSpec {
  help: string;
  labels: readonly LabelName[];
}

/** Counters kept in Redis (HINCRBY), summed over every worker process. */
export const COUNTERS = {
  nylas_rate_limited_total: {
    help:
      "Nylas calls answered 429, by who limited them " +
      "(Nylas' nylas_rate_limit_exceeded, or the provider's rate_limit_error).",
    labels: ["source", "call"],
  },
  nylas_unauthorized_total: { help: "Nylas calls answered 401 (the grant needs re-authentication).", labels: ["call"] },
  nylas_errors_total: {
    help: "Other failed Nylas calls: transient (5xx, timeouts, dropped connections), permanent (other 4xx) or scope (403 insufficient_scopes).",
    labels: ["kind", "call"],
  },
} as const satisfies Record<string, CounterSpec>;
export type CounterName = keyof typeof COUNTERS;

/** Seconds. Jobs take milliseconds (nothing to send) to minutes (a long day at 2 sends/s). */
export const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

export const HISTOGRAMS = {
  job_duration_seconds: {
    help: "Time one attempt of a job held its worker slot, by queue and how the attempt ended.",
    labels: ["queue", "outcome"],
    buckets: DURATION_BUCKETS,
  },
} as const satisfies Record<string, CounterSpec & { buckets: readonly number[] }>;
export type HistogramName = keyof typeof HISTOGRAMS;

/** Last values written by the scheduler tick (HSET: the last tick wins). */
export const TICK_FIELDS = {
  at: "scheduler_last_tick_at_ms",
  ms: "scheduler_last_tick_ms",
  enqueued: "scheduler_last_tick_enqueued",
} as const;

export function metricsKey(queuePrefix: string): string {
  return `${queuePrefix}:metrics`;
}

// Label values are plain words (and bucket bounds), so a field needs no escaping.
const VALUE = /^[A-Za-z0-9_.+-]+$/;
const FIELD = /^([a-z_]+)(?:\{(.*)\})?$/;
const PAIR = /^([a-z_]+)="([^"]*)"$/;

/** `name{a="x",b="y"}` with the labels sorted, so one sample always has one field. */
export function encodeField(name: string, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  for (const k of keys) if (!VALUE.test(labels[k]!)) throw new RangeError(`label ${k} has an unusable value`);
  return `${name}{${keys.map((k) => `${k}="${labels[k]}"`).join(",")}}`;
}

export function decodeField(field: string): { name: string; labels: Record<string, string> } | undefined {
  const m = FIELD.exec(field);
  if (!m) return undefined;
  const labels: Record<string, string> = {};
  if (m[2]) {
    for (const part of m[2].split(",")) {
      const p = PAIR.exec(part);
      if (!p || !VALUE.test(p[2]!)) return undefined;
      labels[p[1]!] = p[2]!;
    }
  }
  return { name: m[1]!, labels };
}

/** True when `labels` has exactly `names`, each with a listed value. */
export function labelsAllowed(names: readonly LabelName[], labels: Record<string, string>): boolean {
  const keys = Object.keys(labels);
  if (keys.length !== names.length) return false;
  return names.every((n) => (LABEL_VALUES[n] as readonly string[]).includes(labels[n] ?? ""));
}

/** Every combination of the listed values: counters are exposed at 0 before their first event. */
export function labelCombinations(names: readonly LabelName[]): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const n of names) out = out.flatMap((l) => LABEL_VALUES[n].map((v) => ({ ...l, [n]: v })));
  return out;
}

/** The `le` of the bucket a value falls in (non-cumulative; the reader adds them up). */
export function bucketLabel(buckets: readonly number[], value: number): string {
  for (const b of buckets) if (value <= b) return String(b);
  return "+Inf";
}

/** Field names of one histogram's parts: a bucket count, and the sum in whole milliseconds. */
export const histogramField = {
  bucket: (name: HistogramName, labels: Labels, le: string) =>
    encodeField(`${name}_bucket`, { ...(labels as Record<string, string>), le }),
  sumMs: (name: HistogramName, labels: Labels) => encodeField(`${name}_sum_ms`, labels as Record<string, string>),
};
