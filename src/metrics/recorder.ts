import type { Redis } from "ioredis";
import { classifyError } from "../nylas/errors.js";
import {
  bucketLabel,
  COUNTERS,
  encodeField,
  HISTOGRAMS,
  histogramField,
  metricsKey,
  TICK_FIELDS,
  type CounterName,
  type HistogramName,
  type Labels,
} from "./catalog.js";
import { failureSample } from "./nylas-failure.js";

export interface RecorderSettings {
  /** How often the counts gathered in memory go to Redis (ms). */
  flushMs?: number;
  /** Longest wait for the last flush when the process stops (ms). */
  closeTimeoutMs?: number;
}

/**
 * The worker side of the metrics: counts are added up in memory and written to one Redis
 * hash once per `flushMs`, in one pipelined round trip whatever the number of jobs, so a
 * job pays a few map updates and no Redis or Postgres command of its own. Counters of all
 * worker processes add up in the hash; the web dyno reads it at scrape time.
 *
 * A flush that fails puts its counts back, so a Redis outage delays them; a process killed
 * between flushes loses at most `flushMs` of counts, which a counter's rate() shrugs off.
 */
export class MetricsRecorder {
  private readonly key: string;
  private pending = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly closeTimeoutMs: number;

  constructor(
    private readonly redis: Redis,
    queuePrefix: string,
    settings: RecorderSettings = {},
  ) {
    this.key = metricsKey(queuePrefix);
    this.closeTimeoutMs = settings.closeTimeoutMs ?? 1000;
    this.timer = setInterval(() => void this.flush().catch(() => {}), settings.flushMs ?? 1000);
    this.timer.unref();
  }

  inc(name: CounterName, labels: Labels, by = 1): void {
    if (!(name in COUNTERS)) return;
    this.add(encodeField(name, labels as Record<string, string>), by);
  }

  observe(name: HistogramName, labels: Labels, seconds: number): void {
    const spec = HISTOGRAMS[name];
    this.add(histogramField.bucket(name, labels, bucketLabel(spec.buckets, seconds)), 1);
    // Whole milliseconds keep the sum an integer (HINCRBY), exact however long it grows.
    this.add(histogramField.sumMs(name, labels), Math.round(seconds * 1000));
  }

  /** For NylasApi's `onFailure`: one failed call, counted by what kind of failure it was. */
  readonly nylasFailure = (call: string, err: unknown): void => {
    try {
      const { name, labels } = failureSample(call, classifyError(err));
      this.inc(name, labels);
    } catch {
      // Counting must never change what the call throws.
    }
  };

  /** The scheduler's last tick: written at once (ticks are rare), the last one wins. */
  async tick(result: { ms: number; enqueued: number }, at = Date.now()): Promise<void> {
    const { at: atField, ms, enqueued } = TICK_FIELDS;
    await this.redis.hset(this.key, atField, at, ms, result.ms, enqueued, result.enqueued);
  }

  /** Writes the counts gathered since the last flush; one flush at a time. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    const pipeline = this.redis.pipeline();
    for (const [field, by] of batch) pipeline.hincrby(this.key, field, by);
    this.flushing = pipeline
      .exec()
      .then((results) => {
        // A pipeline answers per command; a command that failed keeps its count for the next flush.
        const fields = [...batch.keys()];
        results?.forEach(([err], i) => {
          if (err) this.add(fields[i]!, batch.get(fields[i]!)!);
        });
      })
      .catch((err: unknown) => {
        for (const [field, by] of batch) this.add(field, by);
        throw err;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /** Stops the timer and writes what is left, giving up after `closeTimeoutMs` (Redis down). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const last = (async () => {
      await this.flushing?.catch(() => {});
      await this.flush();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeTimeoutMs)));
    await Promise.race([last.catch(() => {}), timeout]);
    clearTimeout(timer);
  }

  private add(field: string, by: number): void {
    this.pending.set(field, (this.pending.get(field) ?? 0) + by);
  }
}
