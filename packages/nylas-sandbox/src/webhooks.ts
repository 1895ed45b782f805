/**
 * Webhooks in the sandbox: the `/v3/webhooks` destinations (with Nylas' challenge on creation
 * and re-activation), the notifications the sandbox's own changes cause, and the control
 * surface over their delivery. The HTTP routes call in here; see webhook-sender.ts for how
 * deliveries behave.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ApiError, badRequest } from "./errors.js";
import {
  EMITTED_TRIGGERS,
  eventObject,
  grantObject,
  sourceFor,
  type EmittedTrigger,
  type EventTrigger,
  type GrantDetails,
  type GrantTrigger,
  type Notification,
} from "./notifications.js";
import type { WireEvent, WireGrant } from "./types.js";
import { isObject } from "./validate.js";
import {
  destinationId,
  destinationWire,
  notFoundDestination,
  parseDestinationInput,
  parseDestinationPatch,
  receives,
  unverified,
  webhookSecret,
  type Destination,
} from "./webhook-destinations.js";
import { httpCall, HttpCallError } from "./webhook-http.js";
import {
  WebhookSender,
  type DeliveryConfig,
  type DeliveryFilter,
  type DeliveryRecord,
  type FlushResult,
  type ReleaseOrder,
} from "./webhook-sender.js";

export interface WebhooksOptions {
  /** `data.application_id` of every notification (the application's client id). */
  applicationId: string;
  /** The sandbox's clock, epoch ms (notification `time`, destination timestamps). */
  now: () => number;
  /** Accept destinations off this machine (default: loopback only). */
  allowRemote?: boolean;
  /** How long the challenge may take (Nylas: 10 s). */
  challengeTimeoutMs?: number;
  /** The delivery plan at start and after a reset. */
  delivery?: Partial<DeliveryConfig>;
}

/** A destination the sandbox registers itself at start (the CLI's --webhook-url). */
export interface WebhookRegistration {
  url: string;
  /** Fixed secret, so a receiver can be configured before the sandbox starts; generated if absent. */
  secret?: string;
  /** Default: every trigger the sandbox emits. */
  triggerTypes?: string[];
  description?: string;
}

/** One verification request, for the control API. */
export interface ChallengeRecord {
  url: string;
  ok: boolean;
  /** HTTP status; 0 when there was no answer. */
  status: number;
  reason?: string;
  ms: number;
  at: number;
}

export type WebhookRouteName =
  | "webhooks.list"
  | "webhooks.create"
  | "webhooks.find"
  | "webhooks.update"
  | "webhooks.delete"
  | "webhooks.rotate_secret";

export const DEFAULT_CHALLENGE_TIMEOUT_MS = 10_000;

export class Webhooks {
  readonly destinations = new Map<string, Destination>();
  readonly sender: WebhookSender;
  private readonly challenges: ChallengeRecord[] = [];
  challengeTimeoutMs: number;
  private aborter = new AbortController();

  constructor(private readonly opts: WebhooksOptions) {
    this.challengeTimeoutMs = opts.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
    this.sender = new WebhookSender((id) => {
      const d = this.destinations.get(id);
      return d && (d.status === "active" || d.status === "failing")
        ? { destinationId: d.id, url: d.webhookUrl, secret: d.secret }
        : undefined;
    }, opts.delivery);
  }

  // ---- /v3/webhooks ------------------------------------------------------------------------

  /** One `/v3/webhooks` request: the JSON body to answer 200 with (without request_id), or throws. */
  async api(name: WebhookRouteName, id: string | undefined, body: unknown): Promise<Record<string, unknown>> {
    switch (name) {
      case "webhooks.list":
        return { data: [...this.destinations.values()].map((d) => destinationWire(d)) };
      case "webhooks.create":
        return { data: await this.create(body) };
      case "webhooks.find":
        return { data: destinationWire(this.require(id!)) };
      case "webhooks.update":
        return { data: await this.update(id!, body) };
      case "webhooks.delete":
        this.require(id!);
        this.destinations.delete(id!);
        return { data: { status: "success" } };
      case "webhooks.rotate_secret": {
        const d = this.require(id!);
        d.secret = webhookSecret();
        d.updatedAt = this.nowSec();
        return { data: destinationWire(d, true) };
      }
    }
  }

  /** `POST /v3/webhooks`: checks the URL with the challenge first; answers with the secret. */
  async create(body: unknown, secret?: string): Promise<Record<string, unknown>> {
    const input = parseDestinationInput(body, this.opts.allowRemote === true);
    const url = input.webhookUrl.toString();
    this.assertUnused(url);
    await this.verify(input.webhookUrl);
    this.assertUnused(url); // another create may have won during the challenge
    const now = this.nowSec();
    const d: Destination = {
      id: destinationId(),
      triggerTypes: input.triggerTypes,
      webhookUrl: url,
      secret: secret ?? webhookSecret(),
      status: "active",
      notificationEmailAddresses: input.notificationEmailAddresses,
      createdAt: now,
      updatedAt: now,
      statusUpdatedAt: now,
    };
    if (input.description !== undefined) d.description = input.description;
    this.destinations.set(d.id, d);
    return destinationWire(d, true);
  }

  /** The CLI's pre-registered destination: the same as a create, challenge included. */
  register(r: WebhookRegistration): Promise<Record<string, unknown>> {
    const body: Record<string, unknown> = {
      webhook_url: r.url,
      trigger_types: r.triggerTypes ?? [...EMITTED_TRIGGERS],
    };
    if (r.description !== undefined) body.description = r.description;
    return this.create(body, r.secret);
  }

  /**
   * `PUT /v3/webhooks/{id}`: only the given fields change. Becoming active again, or moving to
   * another URL while active, passes the challenge first; a failed challenge changes nothing.
   */
  async update(id: string, body: unknown): Promise<Record<string, unknown>> {
    const patch = parseDestinationPatch(body, this.opts.allowRemote === true);
    const d = this.require(id);
    const url = patch.webhookUrl?.toString() ?? d.webhookUrl;
    if (url !== d.webhookUrl) this.assertUnused(url);
    const status = patch.status ?? d.status;
    const reactivated = status === "active" && d.status !== "active" && d.status !== "failing";
    if (status === "active" && (reactivated || url !== d.webhookUrl)) await this.verify(new URL(url));
    const now = this.nowSec();
    if (patch.description !== undefined) d.description = patch.description;
    if (patch.triggerTypes !== undefined) d.triggerTypes = patch.triggerTypes;
    if (patch.notificationEmailAddresses !== undefined) d.notificationEmailAddresses = patch.notificationEmailAddresses;
    d.webhookUrl = url;
    if (status !== d.status) {
      d.status = status;
      d.statusUpdatedAt = now;
    }
    d.updatedAt = now;
    return destinationWire(d);
  }

  /**
   * Nylas' verification request: `GET <webhook_url>?challenge=<random>`, which must answer 200
   * with exactly the challenge as its body within the challenge timeout.
   */
  async verify(url: URL): Promise<void> {
    const challenge = randomBytes(16).toString("hex");
    const target = new URL(url);
    target.searchParams.set("challenge", challenge);
    const t0 = performance.now();
    const rec: ChallengeRecord = { url: url.toString(), ok: false, status: 0, ms: 0, at: 0 };
    try {
      const res = await httpCall({
        method: "GET",
        url: target,
        timeoutMs: this.challengeTimeoutMs,
        signal: this.aborter.signal,
        maxBody: 4096,
      });
      rec.status = res.status;
      if (res.status !== 200) rec.reason = `status is not ok, got ${res.status}`;
      else if (res.body !== challenge) rec.reason = "the response body is not the challenge";
      else rec.ok = true;
    } catch (err) {
      const e = err as HttpCallError;
      rec.reason =
        e.code === "timeout"
          ? `no answer within ${this.challengeTimeoutMs / 1000} s`
          : `request failed: ${e.code ?? String(err)}`;
    }
    rec.ms = Math.round(performance.now() - t0);
    rec.at = Date.now();
    this.challenges.push(rec);
    if (this.challenges.length > 1000) this.challenges.shift();
    if (!rec.ok) throw unverified(rec.reason!);
  }

  // ---- what the sandbox's changes cause ---------------------------------------------------

  grantCreated(g: WireGrant): void {
    this.emitGrant("grant.created", g);
  }

  /** A change to a grant; `reauth` when the user signed in again. */
  grantUpdated(g: WireGrant, reauth: boolean): void {
    this.emitGrant("grant.updated", g, { reauth });
  }

  /** The grant needs re-authentication; `lastAuthenticatedAt` is its updated_at before that. */
  grantExpired(g: WireGrant, lastAuthenticatedAt: number): void {
    this.emitGrant("grant.expired", g, { grantUpdatedAt: lastAuthenticatedAt });
  }

  grantDeleted(g: WireGrant): void {
    this.emitGrant("grant.deleted", g);
  }

  /** An event changed. Nylas cannot see, so does not notify about, the data of an invalid grant. */
  eventChanged(type: EventTrigger, g: WireGrant, ev: WireEvent): void {
    if (g.grant_status !== "valid") return;
    this.emit(type, g.provider, eventObject(type, ev));
  }

  private emitGrant(type: GrantTrigger, g: WireGrant, details: GrantDetails = {}): void {
    this.emit(type, g.provider, grantObject(type, g, details));
  }

  private emit(type: EmittedTrigger, provider: string, object: Record<string, unknown>): void {
    const targets = [...this.destinations.values()]
      .filter((d) => receives(d, type))
      .map((d) => ({ destinationId: d.id, url: d.webhookUrl, secret: d.secret }));
    if (targets.length === 0) return;
    const n: Notification = {
      id: randomUUID(),
      type,
      source: sourceFor(type, provider),
      time: this.nowSec(),
      data: { application_id: this.opts.applicationId, object },
    };
    this.sender.enqueue(n, targets, Date.now());
  }

  // ---- control ----------------------------------------------------------------------------

  /** Everything at a glance, secrets included (the control API is for local tests). */
  overview(): Record<string, unknown> {
    return {
      config: { ...this.sender.config, challengeTimeoutMs: this.challengeTimeoutMs },
      destinations: [...this.destinations.values()].map((d) => destinationWire(d, true)),
      pending: this.sender.pendingCount(),
      held: this.sender.heldCount(),
      challenges: this.challenges.map((c) => ({ ...c })),
    };
  }

  configure(input: unknown): Record<string, unknown> {
    if (!isObject(input)) throw badRequest("expected a JSON object body");
    const rest = { ...input };
    if (rest.challengeTimeoutMs !== undefined) {
      const v = rest.challengeTimeoutMs;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 600_000)
        throw badRequest("challengeTimeoutMs must be a whole number between 1 and 600000");
      this.challengeTimeoutMs = v;
      delete rest.challengeTimeoutMs;
    }
    return { ...this.sender.configure(rest), challengeTimeoutMs: this.challengeTimeoutMs };
  }

  deliveries(filter?: DeliveryFilter): DeliveryRecord[] {
    return this.sender.deliveries(filter);
  }

  flush(opts?: { timeoutMs?: number; expedite?: boolean }): Promise<FlushResult> {
    return this.sender.flush(opts);
  }

  release(opts: { order?: ReleaseOrder; limit?: number } = {}): number {
    return this.sender.release(opts);
  }

  /** Forgets deliveries, challenges and delivery settings; destinations stay (like the API key). */
  reset(): void {
    this.aborter.abort();
    this.aborter = new AbortController();
    this.sender.reset(this.opts.delivery);
    this.challengeTimeoutMs = this.opts.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
    this.challenges.length = 0;
  }

  close(): void {
    this.aborter.abort();
    this.sender.close();
  }

  private require(id: string): Destination {
    const d = this.destinations.get(id);
    if (!d) throw notFoundDestination(id);
    return d;
  }

  private assertUnused(url: string): void {
    for (const d of this.destinations.values())
      if (d.webhookUrl === url) throw new ApiError(400, "70000", `webhook_url is already used by destination ${d.id}`);
  }

  private nowSec(): number {
    return Math.floor(this.opts.now() / 1000);
  }
}
