/**
 * Webhook destinations as `administration.yaml` describes them (`/v3/webhooks`): validation
 * of the create and update payloads, the stored records, and their wire shapes. The URL check
 * (Nylas' challenge) is handed in, so everything here is pure.
 */
import { randomBytes } from "node:crypto";
import { ApiError, badRequest } from "./errors.js";
import { isEmail, isObject } from "./validate.js";

/** `components.schemas.trigger_types` of the spec: what a destination may subscribe to. */
export const TRIGGER_TYPES = [
  "calendar.created",
  "calendar.updated",
  "calendar.deleted",
  "event.created",
  "event.updated",
  "event.deleted",
  "grant.created",
  "grant.updated",
  "grant.deleted",
  "grant.expired",
  "message.send_success",
  "message.send_failed",
  "message.bounce_detected",
  "message.created",
  "message.opened",
  "message.updated",
  "contact.updated",
  "contact.deleted",
  "folder.created",
  "folder.updated",
  "folder.deleted",
] as const;

/** `failing` and `failed` exist in the spec; the sandbox has no circuit breaker that sets them. */
export type DestinationStatus = "active" | "pause" | "failing" | "failed";

export interface Destination {
  id: string;
  description?: string;
  triggerTypes: string[];
  webhookUrl: string;
  secret: string;
  status: DestinationStatus;
  notificationEmailAddresses: string[];
  createdAt: number;
  updatedAt: number;
  statusUpdatedAt: number;
}

export interface DestinationInput {
  description?: string;
  triggerTypes: string[];
  webhookUrl: URL;
  notificationEmailAddresses: string[];
}

export interface DestinationPatch {
  description?: string;
  triggerTypes?: string[];
  webhookUrl?: URL;
  status?: "active" | "pause";
  notificationEmailAddresses?: string[];
}

/** Nylas' error shape for this API (the spec's examples: numeric types, dotted messages). */
export const notFoundDestination = (id: string): ApiError =>
  new ApiError(400, "70000", `destination.id.not.found : record not found (${id})`);

export const unverified = (reason: string): ApiError =>
  new ApiError(400, "70005", `unable.verify.webhook_url : ${reason}`);

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * An absolute http(s) URL. Nylas wants public HTTPS; the sandbox takes http too and, unless
 * told otherwise, only this machine (it is a local fake and must never call out).
 */
export function parseWebhookUrl(v: unknown, allowRemote: boolean): URL {
  if (typeof v !== "string" || v.length === 0 || v.length > 2048)
    throw badRequest("webhook_url must be an absolute http(s) URL");
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw badRequest("webhook_url must be an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw badRequest("webhook_url must be an absolute http(s) URL");
  if (url.username || url.password) throw badRequest("webhook_url must not carry credentials");
  if (url.hash) throw badRequest("webhook_url must not have a fragment");
  if (!allowRemote && !LOOPBACK.test(url.hostname))
    throw badRequest("webhook_url must point at this machine (localhost, 127.0.0.0/8 or [::1]) in the sandbox");
  return url;
}

function parseTriggers(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest("trigger_types must be a non-empty array");
  for (const t of v) {
    if (typeof t !== "string" || !(TRIGGER_TYPES as readonly string[]).includes(t))
      throw badRequest(`trigger_types: unknown trigger ${JSON.stringify(t)} (known: ${TRIGGER_TYPES.join(", ")})`);
  }
  return [...new Set(v as string[])];
}

function parseEmails(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every(isEmail))
    throw badRequest("notification_email_addresses must be an array of emails");
  return [...v];
}

function parseDescription(v: unknown): string {
  if (typeof v !== "string" || v.length > 1024)
    throw badRequest("description must be a string of at most 1024 characters");
  return v;
}

/** The body of `POST /v3/webhooks` (`destination_input_payload`). */
export function parseDestinationInput(body: unknown, allowRemote: boolean): DestinationInput {
  if (!isObject(body)) throw badRequest("expected a JSON object body");
  const out: DestinationInput = {
    triggerTypes: parseTriggers(body.trigger_types),
    webhookUrl: parseWebhookUrl(body.webhook_url, allowRemote),
    notificationEmailAddresses:
      body.notification_email_addresses === undefined ? [] : parseEmails(body.notification_email_addresses),
  };
  if (body.description !== undefined) out.description = parseDescription(body.description);
  return out;
}

/** The body of `PUT /v3/webhooks/{id}` (`destination_update_payload`): only what is given changes. */
export function parseDestinationPatch(body: unknown, allowRemote: boolean): DestinationPatch {
  if (!isObject(body)) throw badRequest("expected a JSON object body");
  const out: DestinationPatch = {};
  if (body.description !== undefined) out.description = parseDescription(body.description);
  if (body.trigger_types !== undefined) out.triggerTypes = parseTriggers(body.trigger_types);
  if (body.webhook_url !== undefined) out.webhookUrl = parseWebhookUrl(body.webhook_url, allowRemote);
  if (body.notification_email_addresses !== undefined)
    out.notificationEmailAddresses = parseEmails(body.notification_email_addresses);
  if (body.status !== undefined) {
    if (body.status !== "active" && body.status !== "pause") throw badRequest("status must be active or pause");
    out.status = body.status;
  }
  return out;
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 26 alphanumerics, like the spec's example ids. */
export function destinationId(): string {
  const bytes = randomBytes(26);
  let s = "";
  for (const b of bytes) s += ID_CHARS[b % ID_CHARS.length];
  return s;
}

export function webhookSecret(): string {
  return randomBytes(24).toString("base64url");
}

/** The destination as GET/PUT answer it; `withSecret` only on creation and secret rotation. */
export function destinationWire(d: Destination, withSecret = false): Record<string, unknown> {
  const o: Record<string, unknown> = { id: d.id };
  if (d.description !== undefined) o.description = d.description;
  o.trigger_types = [...d.triggerTypes];
  o.webhook_url = d.webhookUrl;
  if (withSecret) o.webhook_secret = d.secret;
  o.status = d.status;
  o.notification_email_addresses = [...d.notificationEmailAddresses];
  o.status_updated_at = d.statusUpdatedAt;
  o.created_at = d.createdAt;
  o.updated_at = d.updatedAt;
  return o;
}

/** Does this destination get notifications of `type` now? */
export function receives(d: Destination, type: string): boolean {
  return (d.status === "active" || d.status === "failing") && d.triggerTypes.includes(type);
}
