/**
 * Nylas v3 notification bodies for the triggers the sandbox emits: the CloudEvents envelope
 * `{specversion, type, source, id, time, webhook_delivery_attempt, data: {application_id,
 * object}}` with Nylas' `data.object` per trigger (grant fields and codes from Nylas'
 * notification reference; an event as the events API returns it). Pure.
 */
import { createHmac } from "node:crypto";
import type { WireEvent, WireGrant } from "./types.js";

/** What the sandbox can cause (others can be subscribed to, but nothing here emits them). */
export const EMITTED_TRIGGERS = [
  "grant.created",
  "grant.updated",
  "grant.deleted",
  "grant.expired",
  "event.created",
  "event.updated",
  "event.deleted",
] as const;
export type EmittedTrigger = (typeof EMITTED_TRIGGERS)[number];
export type GrantTrigger = Extract<EmittedTrigger, `grant.${string}`>;
export type EventTrigger = Extract<EmittedTrigger, `event.${string}`>;

/** Nylas' notification codes in `data.object.code` (25027 = an update that is a re-authentication). */
export const GRANT_CODES: Record<GrantTrigger, number> = {
  "grant.created": 25012,
  "grant.updated": 25014,
  "grant.deleted": 25013,
  "grant.expired": 25009,
};
export const REAUTH_CODE = 25027;

/** One notification, the same for every attempt and every destination; only the attempt number varies. */
export interface Notification {
  id: string;
  type: EmittedTrigger;
  source: string;
  /** Unix seconds, by the sandbox's clock, when the change happened. */
  time: number;
  data: { application_id: string; object: Record<string, unknown> };
}

/** The exact bytes POSTed for one attempt (the signature is over these). */
export function notificationBody(n: Notification, attempt: number): string {
  return JSON.stringify({
    specversion: "1.0",
    type: n.type,
    source: n.source,
    id: n.id,
    time: n.time,
    webhook_delivery_attempt: attempt,
    data: n.data,
  });
}

/** X-Nylas-Signature: hex HMAC-SHA256 of the raw body keyed with the destination's webhook_secret. */
export function signBody(body: string, secret: string): string {
  return createHmac("sha256", secret).update(body, "utf8").digest("hex");
}

/** The connector a grant belongs to: the sandbox has one per provider. */
export function integrationId(provider: string): string {
  return `sandbox-${provider}-connector`;
}

export interface GrantDetails {
  /** grant.updated: the user signed in again (code 25027, `reauthentication_flag: true`). */
  reauth?: boolean;
  /** grant.expired: when the grant last authenticated successfully (Unix seconds). */
  grantUpdatedAt?: number;
}

/** `data.object` of a grant.* notification. */
export function grantObject(type: GrantTrigger, g: WireGrant, details: GrantDetails = {}): Record<string, unknown> {
  const o: Record<string, unknown> = {
    code: type === "grant.updated" && details.reauth ? REAUTH_CODE : GRANT_CODES[type],
    grant_id: g.id,
    integration_id: integrationId(g.provider),
    provider: g.provider,
    email: g.email,
  };
  if (type === "grant.created") o.scope = [...g.scope];
  if (type === "grant.updated") o.reauthentication_flag = details.reauth === true;
  if (type === "grant.expired" && details.grantUpdatedAt !== undefined) o.grant_updated_at = details.grantUpdatedAt;
  return o;
}

/**
 * `data.object` of an event.* notification: the event as the events API returns it; for
 * event.deleted only what identifies it, as Nylas sends.
 */
export function eventObject(type: EventTrigger, ev: WireEvent): Record<string, unknown> {
  if (type !== "event.deleted") return structuredClone(ev) as unknown as Record<string, unknown>;
  const o: Record<string, unknown> = { grant_id: ev.grant_id, calendar_id: ev.calendar_id, id: ev.id, object: "event" };
  if (ev.master_event_id !== undefined) o.master_event_id = ev.master_event_id;
  return o;
}

/** Where Nylas says a change came from: `/nylas/system` for grants, `/<provider>/events/realtime` for events. */
export function sourceFor(type: EmittedTrigger, provider: string): string {
  return type.startsWith("grant.") ? "/nylas/system" : `/${provider}/events/realtime`;
}
