/**
 * Nylas' send idempotency (2026-04): `POST /v3/grants/{id}/messages/send` takes an
 * `Idempotency-Key` header (at most 256 characters), scoped to the grant and kept for one hour
 * from the first request with it, by the sandbox's clock. A retry with the same key and the
 * same payload gets the first answer again (status and body, the message id included) with
 * `Idempotent-Response: true`, and nothing is sent again; while the first request is still in
 * flight a retry gets 409 `api.concurrent_idempotent_request`; the same key with another
 * payload gets 409 `api.invalid_idempotent_request`.
 *
 * Which first answers are kept (the sandbox's choice; Nylas does not publish one): the
 * answers of the send itself, 2xx and 4xx other than 409 and 429. A 429 or a 5xx, and any
 * answer given before the send was attempted (an unknown or invalid grant, Nylas' own rate
 * limit, an injected fault that refuses the request, a connection dropped before the work),
 * releases the key, so a retry can send. A send that was carried out keeps its 200 answer even
 * when the client never received it (a "drop_after" fault, a client that hung up).
 */
import { createHash } from "node:crypto";
import { ApiError } from "./errors.js";

/** Request header (Node lowercases header names). */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Response header on an answer replayed from a key. */
export const IDEMPOTENT_RESPONSE_HEADER = "Idempotent-Response";
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
/** How long a key is kept, from its first request. */
export const IDEMPOTENCY_KEY_TTL_MS = 60 * 60_000;

type Json = Record<string, unknown>;

export interface KeyEntry {
  grantId: string;
  key: string;
  /** Hash of the request's payload (its JSON with object keys sorted). */
  fingerprint: string;
  /** Sandbox clock, epoch ms, of the first request with this key. */
  firstAtMs: number;
  state: "in_flight" | "done";
  /** The kept answer (state "done"): status, the whole body as sent, extra headers. */
  status?: number;
  body?: Json;
  headers?: Record<string, string>;
}

export type KeyDecision = { kind: "new"; entry: KeyEntry } | { kind: "replay"; entry: KeyEntry };

/** Whether an answer with this status is kept under its key (see the module comment). */
export function keepsAnswer(status: number): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 409 && status !== 429);
}

/** The key a request carries: undefined without one, a 400 when it is empty or too long. */
export function readIdempotencyKey(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw.join(", ") : raw;
  if (key.length === 0) throw new ApiError(400, "invalid_request_error", "Idempotency-Key must not be empty.");
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ApiError(
      400,
      "invalid_request_error",
      `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${key.length}).`,
    );
  }
  return key;
}

/** The payload's fingerprint: the same JSON with its keys in another order is the same payload. */
export function payloadFingerprint(body: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(body ?? null, (_k, v: unknown) => (isPlainObject(v) ? sortKeys(v) : v)))
    .digest("hex");
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sortKeys(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = v[k];
  return out;
}

export class IdempotencyKeys {
  private readonly byGrant = new Map<string, Map<string, KeyEntry>>();
  /** Entries in order of their first request, for forgetting expired ones in O(1) per request. */
  private order: KeyEntry[] = [];
  private head = 0;

  constructor(private readonly now: () => number) {}

  /**
   * Looks the key up for a new request: a fresh entry (now in flight), or the kept answer to
   * replay; throws the 409s.
   */
  begin(grantId: string, key: string, fingerprint: string): KeyDecision {
    const nowMs = this.now();
    this.forgetExpired(nowMs);
    let keys = this.byGrant.get(grantId);
    const found = keys?.get(key);
    if (found && nowMs - found.firstAtMs < IDEMPOTENCY_KEY_TTL_MS) {
      if (found.state === "in_flight") {
        throw new ApiError(
          409,
          "api.concurrent_idempotent_request",
          "A request with this Idempotency-Key is still being processed; retry later.",
          undefined,
          {},
          "idempotency_conflict",
        );
      }
      if (found.fingerprint !== fingerprint) {
        throw new ApiError(
          409,
          "api.invalid_idempotent_request",
          "This Idempotency-Key was already used with a different request payload.",
          undefined,
          {},
          "idempotency_conflict",
        );
      }
      return { kind: "replay", entry: found };
    }
    if (!keys) {
      keys = new Map();
      this.byGrant.set(grantId, keys);
    }
    const entry: KeyEntry = { grantId, key, fingerprint, firstAtMs: nowMs, state: "in_flight" };
    keys.set(key, entry);
    this.order.push(entry);
    return { kind: "new", entry };
  }

  /** The request ended with this answer: kept under the key, or the key released. */
  settle(entry: KeyEntry, status: number, body: Json, headers: Record<string, string> = {}): void {
    if (entry.state !== "in_flight") return;
    if (!keepsAnswer(status)) return this.release(entry);
    entry.state = "done";
    entry.status = status;
    entry.body = body;
    entry.headers = headers;
  }

  /** Forgets the key (the request was not carried out): a retry sends. */
  release(entry: KeyEntry): void {
    const keys = this.byGrant.get(entry.grantId);
    if (keys?.get(entry.key) === entry) {
      keys.delete(entry.key);
      if (keys.size === 0) this.byGrant.delete(entry.grantId);
    }
    entry.state = "done";
  }

  /** Keys currently held (in flight or kept), for tests and the control API. */
  get size(): number {
    let n = 0;
    for (const keys of this.byGrant.values()) n += keys.size;
    return n;
  }

  reset(): void {
    this.byGrant.clear();
    this.order = [];
    this.head = 0;
  }

  private forgetExpired(nowMs: number): void {
    while (this.head < this.order.length) {
      const e = this.order[this.head]!;
      if (nowMs - e.firstAtMs < IDEMPOTENCY_KEY_TTL_MS) break;
      const keys = this.byGrant.get(e.grantId);
      if (keys?.get(e.key) === e) {
        keys.delete(e.key);
        if (keys.size === 0) this.byGrant.delete(e.grantId);
      }
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
