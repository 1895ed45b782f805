import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { WEBHOOK_TRIGGERS, type GrantNotification } from "./notification.js";

/**
 * Proof that a webhook job was queued by the signed /webhooks/nylas route and not by anyone
 * else who can write to Redis or use Bull Board: HMAC-SHA256 over a canonical serialisation of
 * the notification, keyed with a key derived from NYLAS_API_KEY (both dynos have it). The key
 * is derived, never the API key itself, so the MAC key is useless against Nylas. Pure.
 */

const KEY_LABEL = "nightly-reminders/webhook-job-mac/v1";

/** 32-byte key, HKDF-SHA256 of the API key under a fixed label. */
export function webhookJobKey(apiKey: string): Buffer {
  return Buffer.from(hkdfSync("sha256", apiKey, Buffer.alloc(0), KEY_LABEL, 32));
}

/** Every field the worker acts on, in a fixed order; absent fields are null. */
export function canonicalNotification(n: GrantNotification): string {
  const rest = [n.time, n.provider, n.email, n.attempt].map((v) => v ?? null);
  return JSON.stringify(["v1", n.id, n.type, n.grantId, ...rest]);
}

/** Hex HMAC-SHA256 of the canonical notification. */
export function macNotification(n: GrantNotification, key: Buffer): string {
  return createHmac("sha256", key).update(canonicalNotification(n)).digest("hex");
}

const optional = (v: unknown, type: "string" | "number") => v === undefined || typeof v === type;

/**
 * The notification a job carries when its `mac` is valid for exactly these fields; undefined
 * for anything else (another shape, extra fields, a missing or wrong MAC). Constant-time.
 */
export function verifiedNotification(data: unknown, key: Buffer): GrantNotification | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  const allowed = new Set(["id", "type", "grantId", "time", "provider", "email", "attempt", "mac"]);
  if (Object.keys(d).some((k) => !allowed.has(k))) return undefined;
  if (typeof d.id !== "string" || typeof d.grantId !== "string" || typeof d.mac !== "string") return undefined;
  if (!(WEBHOOK_TRIGGERS as readonly unknown[]).includes(d.type)) return undefined;
  if (!optional(d.time, "number") || !optional(d.attempt, "number")) return undefined;
  if (!optional(d.provider, "string") || !optional(d.email, "string")) return undefined;
  if (!/^[0-9a-f]{64}$/.test(d.mac)) return undefined;
  const n: GrantNotification = { id: d.id, type: d.type as GrantNotification["type"], grantId: d.grantId };
  if (d.time !== undefined) n.time = d.time as number;
  if (d.provider !== undefined) n.provider = d.provider as string;
  if (d.email !== undefined) n.email = d.email as string;
  if (d.attempt !== undefined) n.attempt = d.attempt as number;
  const expected = Buffer.from(macNotification(n, key), "hex");
  return timingSafeEqual(expected, Buffer.from(d.mac, "hex")) ? n : undefined;
}
