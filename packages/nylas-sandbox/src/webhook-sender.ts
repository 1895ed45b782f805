/**
 * Delivery of notifications to webhook destinations, as Nylas does it and with the mess of
 * the real world on demand: signed POSTs, retries with exponential backoff on a non-2xx answer
 * or no answer in time (the same notification id, `webhook_delivery_attempt` counting up),
 * optional duplicates and random delays (so later notifications can arrive first), a hold to
 * release notifications in a chosen order, a log of every attempt, and a wait until idle.
 *
 * Random choices (delays, duplicates, shuffles) are drawn from a PRNG seeded with the sandbox
 * seed at the moment a notification is queued, so the same seed and the same sequence of
 * changes give the same plan whatever the network does.
 */
import { badRequest } from "./errors.js";
import { httpCall, HttpCallError } from "./webhook-http.js";
import { notificationBody, signBody, type Notification } from "./notifications.js";
import { mulberry32 } from "./random.js";
import { isObject } from "./validate.js";

export interface DeliveryConfig {
  /** Attempts per notification and destination, the first included. */
  maxAttempts: number;
  /** Wait before attempt n+1 is retryBaseMs × 2^(n−1). */
  retryBaseMs: number;
  /** An attempt without a complete answer within this is a failure (Nylas: 10 s). */
  timeoutMs: number;
  /** Chance that a delivered notification is delivered a second time, byte for byte. */
  duplicateProbability: number;
  /** Each notification's first attempt waits a random 0..maxDelayMs, so order is not kept. */
  maxDelayMs: number;
  /** Park new notifications until `release` (see there). */
  hold: boolean;
  seed: number;
}

export const DEFAULT_DELIVERY: Readonly<DeliveryConfig> = {
  maxAttempts: 3,
  retryBaseMs: 1000,
  timeoutMs: 10_000,
  duplicateProbability: 0,
  maxDelayMs: 0,
  hold: false,
  seed: 1,
};

/** Where one delivery goes now: read at each attempt, so a rotated secret or a new URL applies. */
export interface Target {
  destinationId: string;
  url: string;
  secret: string;
}

export type DeliveryState = "held" | "waiting" | "sending" | "delivered" | "failed" | "cancelled";

export interface AttemptRecord {
  attempt: number;
  /** The extra, identical delivery of a notification already delivered. */
  duplicate: boolean;
  /** HTTP status; 0 when there was no answer (see `error`). */
  status: number;
  error?: string;
  ms: number;
  /** Epoch ms when the attempt finished. */
  at: number;
}

/** One notification on its way to one destination, as `GET /_sandbox/webhooks/deliveries` shows it. */
export interface DeliveryRecord {
  seq: number;
  notificationId: string;
  type: string;
  grantId?: string;
  destinationId: string;
  webhookUrl: string;
  state: DeliveryState;
  plannedDelayMs: number;
  duplicatePlanned: boolean;
  /** Epoch ms when the change was queued. */
  queuedAt: number;
  /** The notification as its first attempt carries it. */
  body: unknown;
  attempts: AttemptRecord[];
  /** Why it was cancelled (the destination went away or was paused). */
  reason?: string;
}

interface Delivery {
  rec: DeliveryRecord;
  n: Notification;
  timer?: NodeJS.Timeout;
  /** What the timer will do, so a flush can do it at once. */
  due?: () => void;
}

export interface DeliveryFilter {
  notificationId?: string;
  destinationId?: string;
  grantId?: string;
  type?: string;
  state?: DeliveryState;
  sinceSeq?: number;
}

export interface FlushResult {
  idle: boolean;
  pending: number;
  held: number;
}

export type ReleaseOrder = "emitted" | "reverse" | "random";

const LOG_CAPACITY = 10_000;

export class WebhookSender {
  config: DeliveryConfig;
  private rand: () => number;
  private seq = 0;
  private readonly log: Delivery[] = [];
  private readonly active = new Set<Delivery>();
  private waiters: (() => void)[] = [];
  /** While > 0 (a flush with `expedite`), waits are skipped. */
  private expediting = 0;
  private aborter = new AbortController();

  constructor(
    /** The destination as it is now, or undefined when it no longer takes deliveries. */
    private readonly resolve: (destinationId: string) => Target | undefined,
    config: Partial<DeliveryConfig> = {},
  ) {
    this.config = { ...DEFAULT_DELIVERY, ...config };
    this.rand = mulberry32(this.config.seed);
  }

  configure(input: unknown): DeliveryConfig {
    const next = { ...this.config, ...parseDeliveryConfig(input) };
    if (next.seed !== this.config.seed) this.rand = mulberry32(next.seed);
    const released = this.config.hold && !next.hold;
    this.config = next;
    // Turning the hold off lets parked notifications go, in the order they were made.
    if (released) this.release({});
    return { ...this.config };
  }

  /** Queues one notification for each target; nothing is sent before this returns. */
  enqueue(n: Notification, targets: Target[], now: number): void {
    for (const t of targets) {
      const plannedDelayMs = this.config.maxDelayMs > 0 ? Math.floor(this.rand() * (this.config.maxDelayMs + 1)) : 0;
      const duplicatePlanned = this.config.duplicateProbability > 0 && this.rand() < this.config.duplicateProbability;
      const grantId = n.data.object.grant_id;
      const rec: DeliveryRecord = {
        seq: ++this.seq,
        notificationId: n.id,
        type: n.type,
        destinationId: t.destinationId,
        webhookUrl: t.url,
        state: this.config.hold ? "held" : "waiting",
        plannedDelayMs,
        duplicatePlanned,
        queuedAt: now,
        body: JSON.parse(notificationBody(n, 1)),
        attempts: [],
      };
      if (typeof grantId === "string") rec.grantId = grantId;
      const d: Delivery = { rec, n };
      this.remember(d);
      this.active.add(d);
      if (!this.config.hold) this.wait(d, plannedDelayMs, () => void this.attempt(d, 1));
    }
  }

  /**
   * Sends parked notifications one after another, each only once the previous one's first
   * attempt has its answer, so the receiver sees them in exactly this order: `emitted`
   * (oldest first), `reverse` (newest first) or `random` (seeded). `limit` releases only the
   * first few of that order. Returns how many were released.
   */
  release(opts: { order?: ReleaseOrder; limit?: number }): number {
    let held = this.log.filter((d) => d.rec.state === "held");
    if (opts.order === "reverse") held.reverse();
    else if (opts.order === "random") {
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(this.rand() * (i + 1));
        [held[i], held[j]] = [held[j]!, held[i]!];
      }
    }
    if (opts.limit !== undefined) held = held.slice(0, opts.limit);
    for (const d of held) d.rec.state = "waiting";
    void (async () => {
      for (const d of held) await this.attempt(d, 1);
    })();
    return held.length;
  }

  /**
   * Resolves once nothing is waiting, in flight or due for a retry (parked notifications do not
   * count: they wait for `release`), or after `timeoutMs`. With `expedite`, delays and retry
   * backoffs are skipped while it waits.
   */
  async flush(opts: { timeoutMs?: number; expedite?: boolean } = {}): Promise<FlushResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    if (opts.expedite) {
      this.expediting++;
      for (const d of this.active) this.fireNow(d);
    }
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          if (this.pendingCount() === 0) return resolve();
          this.waiters.push(resolve);
        }),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    } finally {
      if (opts.expedite) this.expediting--;
    }
    const pending = this.pendingCount();
    return { idle: pending === 0, pending, held: this.heldCount() };
  }

  deliveries(f: DeliveryFilter = {}): DeliveryRecord[] {
    return this.log
      .filter(
        ({ rec: r }) =>
          (f.notificationId === undefined || r.notificationId === f.notificationId) &&
          (f.destinationId === undefined || r.destinationId === f.destinationId) &&
          (f.grantId === undefined || r.grantId === f.grantId) &&
          (f.type === undefined || r.type === f.type) &&
          (f.state === undefined || r.state === f.state) &&
          (f.sinceSeq === undefined || r.seq > f.sinceSeq),
      )
      .map(({ rec }) => structuredClone(rec));
  }

  /** Forgets finished deliveries (pending and parked ones stay). */
  clearLog(): void {
    const keep = this.log.filter((d) => this.active.has(d));
    this.log.length = 0;
    this.log.push(...keep);
  }

  pendingCount(): number {
    let n = 0;
    for (const d of this.active) if (d.rec.state !== "held") n++;
    return n;
  }

  heldCount(): number {
    let n = 0;
    for (const d of this.active) if (d.rec.state === "held") n++;
    return n;
  }

  /** Cancels everything pending, forgets the log and goes back to `config` (the default plan). */
  reset(config: Partial<DeliveryConfig> = {}): void {
    this.stop("reset");
    this.log.length = 0;
    this.config = { ...DEFAULT_DELIVERY, ...config };
    this.rand = mulberry32(this.config.seed);
    this.aborter = new AbortController();
  }

  /** Stops every timer and request (the sandbox is closing). */
  close(): void {
    this.stop("the sandbox closed");
  }

  private stop(reason: string): void {
    this.aborter.abort();
    for (const d of [...this.active]) {
      clearTimeout(d.timer);
      this.finish(d, "cancelled", reason);
    }
  }

  private remember(d: Delivery): void {
    this.log.push(d);
    if (this.log.length <= LOG_CAPACITY) return;
    const i = this.log.findIndex((x) => !this.active.has(x));
    if (i >= 0) this.log.splice(i, 1);
  }

  private wait(d: Delivery, ms: number, then: () => void): void {
    d.rec.state = "waiting";
    d.due = then;
    d.timer = setTimeout(() => this.fireNow(d), this.expediting > 0 ? 0 : ms);
  }

  private fireNow(d: Delivery): void {
    const due = d.due;
    if (!due) return;
    clearTimeout(d.timer);
    d.due = undefined;
    d.timer = undefined;
    due();
  }

  private async attempt(d: Delivery, attempt: number): Promise<void> {
    if (d.rec.state === "cancelled") return;
    const target = this.resolve(d.rec.destinationId);
    if (!target) return this.finish(d, "cancelled", "the destination was deleted or paused");
    d.rec.state = "sending";
    d.rec.webhookUrl = target.url;
    const body = notificationBody(d.n, attempt);
    const rec = await this.post(target, body, attempt, false);
    d.rec.attempts.push(rec);
    // reset() or close() may have cancelled it while the request was out.
    if ((d.rec.state as DeliveryState) === "cancelled") return;
    if (rec.status >= 200 && rec.status < 300) {
      if (d.rec.duplicatePlanned) d.rec.attempts.push(await this.post(target, body, attempt, true));
      return this.finish(d, "delivered");
    }
    if (attempt >= this.config.maxAttempts) return this.finish(d, "failed");
    const backoff = this.config.retryBaseMs * 2 ** (attempt - 1);
    this.wait(d, backoff, () => void this.attempt(d, attempt + 1));
  }

  private async post(t: Target, body: string, attempt: number, duplicate: boolean): Promise<AttemptRecord> {
    const t0 = performance.now();
    const rec: AttemptRecord = { attempt, duplicate, status: 0, ms: 0, at: 0 };
    try {
      const res = await httpCall({
        method: "POST",
        url: new URL(t.url),
        headers: { "content-type": "application/json", "x-nylas-signature": signBody(body, t.secret) },
        body,
        timeoutMs: this.config.timeoutMs,
        signal: this.aborter.signal,
        maxBody: 1024,
      });
      rec.status = res.status;
    } catch (err) {
      rec.error = err instanceof HttpCallError ? err.code : String(err);
    }
    rec.ms = Math.round(performance.now() - t0);
    rec.at = Date.now();
    return rec;
  }

  private finish(d: Delivery, state: "delivered" | "failed" | "cancelled", reason?: string): void {
    d.rec.state = state;
    if (reason) d.rec.reason = reason;
    d.due = undefined;
    this.active.delete(d);
    if (this.pendingCount() > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function num(v: unknown, field: string, min: number, max: number, integer = true): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw badRequest(`${field} must be ${integer ? "a whole number" : "a number"} between ${min} and ${max}`);
  return v;
}

/** `POST /_sandbox/webhooks/config`: any subset of DeliveryConfig, checked. */
export function parseDeliveryConfig(input: unknown): Partial<DeliveryConfig> {
  if (!isObject(input)) throw badRequest("expected a JSON object body");
  const out: Partial<DeliveryConfig> = {};
  const known = new Set(Object.keys(DEFAULT_DELIVERY));
  for (const k of Object.keys(input)) if (!known.has(k)) throw badRequest(`unknown setting ${k}`);
  if (input.maxAttempts !== undefined) out.maxAttempts = num(input.maxAttempts, "maxAttempts", 1, 20);
  if (input.retryBaseMs !== undefined) out.retryBaseMs = num(input.retryBaseMs, "retryBaseMs", 0, 3_600_000);
  if (input.timeoutMs !== undefined) out.timeoutMs = num(input.timeoutMs, "timeoutMs", 1, 600_000);
  if (input.duplicateProbability !== undefined)
    out.duplicateProbability = num(input.duplicateProbability, "duplicateProbability", 0, 1, false);
  if (input.maxDelayMs !== undefined) out.maxDelayMs = num(input.maxDelayMs, "maxDelayMs", 0, 600_000);
  if (input.hold !== undefined) {
    if (typeof input.hold !== "boolean") throw badRequest("hold must be true or false");
    out.hold = input.hold;
  }
  if (input.seed !== undefined) out.seed = num(input.seed, "seed", 0, 2 ** 32 - 1);
  return out;
}
