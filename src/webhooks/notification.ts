/**
 * The shape of a Nylas v3 webhook notification, checked without trusting anything:
 * `{specversion, type, source, id, time, webhook_delivery_attempt, data: {application_id,
 * object: {grant_id, ...}}}`. Pure: raw text in, a small typed value or one-line problem out.
 */

/** The grant lifecycle triggers this service acts on. */
export const GRANT_TRIGGERS = ["grant.created", "grant.updated", "grant.deleted", "grant.expired"] as const;
export type GrantTrigger = (typeof GRANT_TRIGGERS)[number];
/** A meeting changed: a completed run of the grant's next day may need a re-run (src/runs/rerun.ts). */
export const EVENT_TRIGGERS = ["event.created", "event.updated", "event.deleted"] as const;
export type EventTrigger = (typeof EVENT_TRIGGERS)[number];
/** Every trigger this service acts on. */
export const WEBHOOK_TRIGGERS = [...GRANT_TRIGGERS, ...EVENT_TRIGGERS] as const;
export type WebhookTrigger = (typeof WEBHOOK_TRIGGERS)[number];

export const isEventTrigger = (type: string): type is EventTrigger =>
  (EVENT_TRIGGERS as readonly string[]).includes(type);

/** A notification of one of WEBHOOK_TRIGGERS, about one grant (of an event.*, only its grant id is kept). */
export interface GrantNotification {
  /** Notification id: the same for every delivery attempt of one notification. */
  id: string;
  type: WebhookTrigger;
  grantId: string;
  /** When Nylas created the notification (Unix seconds), if it said. */
  time?: number;
  provider?: string;
  email?: string;
  attempt?: number;
}

export type ParsedNotification =
  | { kind: "grant"; notification: GrantNotification }
  /** A well-formed notification of a trigger this service does not act on. */
  | { kind: "other"; id: string; type: string }
  | { kind: "invalid"; problem: string };

const MAX_ID = 256;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(v: unknown, max = MAX_ID): string | undefined {
  return typeof v === "string" && v.length > 0 && v.length <= max && !CONTROL.test(v) ? v : undefined;
}

export function parseNotification(raw: string): ParsedNotification {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { kind: "invalid", problem: "body is not valid JSON" };
  }
  if (!isRecord(body)) return { kind: "invalid", problem: "body must be a JSON object" };
  const id = text(body.id);
  if (!id) return { kind: "invalid", problem: "id must be a non-empty string of at most 256 characters" };
  const type = text(body.type, 100);
  if (!type) return { kind: "invalid", problem: "type must be a non-empty string" };
  if (!isRecord(body.data)) return { kind: "invalid", problem: "data must be an object" };
  if (!(WEBHOOK_TRIGGERS as readonly string[]).includes(type)) return { kind: "other", id, type };

  const object = body.data.object;
  if (!isRecord(object)) return { kind: "invalid", problem: "data.object must be an object" };
  const grantId = text(object.grant_id);
  if (!grantId) return { kind: "invalid", problem: "data.object.grant_id must be a non-empty string" };
  const n: GrantNotification = { id, type: type as WebhookTrigger, grantId };
  if (typeof body.time === "number" && Number.isFinite(body.time) && body.time > 0) n.time = Math.floor(body.time);
  if (isEventTrigger(type)) {
    // The event itself is read again by the re-run: only whose it is matters here.
    if (typeof body.webhook_delivery_attempt === "number" && Number.isInteger(body.webhook_delivery_attempt))
      n.attempt = body.webhook_delivery_attempt;
    return { kind: "grant", notification: n };
  }
  const provider = text(object.provider, 40);
  if (provider) n.provider = provider;
  const email = text(object.email, 320) ?? text(object.login_id, 320);
  if (email && email.includes("@")) n.email = email;
  if (typeof body.webhook_delivery_attempt === "number" && Number.isInteger(body.webhook_delivery_attempt))
    n.attempt = body.webhook_delivery_attempt;
  return { kind: "grant", notification: n };
}
