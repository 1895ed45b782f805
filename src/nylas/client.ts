import { classifyError } from "./errors.js";
import { Nylas, type NylasClient } from "./sdk.js";
import { camelKeys } from "./camel-keys.js";
import { leanRequest } from "./lean-request.js";
import type { Calendar, Event, Grant as NylasGrant, Message } from "nylas";
import type { CalendarInfo } from "../grants/calendar.js";

/**
 * Exactly the Nylas calls the worker makes, on the official SDK. Paging is done here page
 * by page (not with the SDK's iterator) so the caller can wrap each page's request (a
 * rate-limit token around it) and resume from a cursor after a back-off.
 */

export interface NylasSettings {
  apiKey: string;
  apiUri: string;
  /** Seconds. */
  timeout?: number;
  /** Told of every call that throws (metrics), before the error goes on; must not throw. */
  onFailure?: (call: NylasCall, err: unknown) => void;
}

/** The calls below, as named in metrics. */
export type NylasCall = "events" | "send" | "sent_folder" | "folders" | "grant" | "grants" | "calendar" | "custom_auth";

export interface EventsPageQuery {
  calendarId: string;
  /** Unix seconds, inclusive. */
  start: number;
  /** Unix seconds, exclusive. */
  end: number;
  limit?: number;
  pageToken?: string;
  expandRecurring?: boolean;
  /** Cancelled events too, with status "cancelled" (`show_cancelled=true`): a re-run needs them. */
  showCancelled?: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Recipient {
  name?: string;
  email: string;
}

export interface OutgoingMessage {
  to: Recipient[];
  subject: string;
  body: string;
  isPlaintext?: boolean;
  customHeaders?: { name: string; value: string }[];
}

/** Nylas' send idempotency (2026-04): the request header, and the header of a replayed answer. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const IDEMPOTENT_RESPONSE_HEADER = "Idempotent-Response";

export interface SendResult {
  /** The sent message's id. */
  id: string;
  /** The answer is the one Nylas kept for this idempotency key: this request sent nothing. */
  replayed: boolean;
}

export interface SentMessage {
  id: string;
  date?: number;
  subject?: string;
  to: string[];
  headers: { name: string; value: string }[];
}

/** A search of one folder (by id: Nylas refuses keywords) for a sent reminder. */
export interface FolderSearch {
  folderId: string;
  /** Unix seconds. */
  after: number;
  /** Nylas matches it case-insensitively, in part. */
  subject?: string;
  to?: string;
  /** `fields=include_headers` (Google; refused or empty elsewhere, see src/nylas/providers.ts). */
  headers?: boolean;
  limit?: number;
  pageToken?: string;
}

export interface GrantInfo {
  id: string;
  email: string;
  provider: string;
  status: "valid" | "invalid";
  /** Unix seconds of Nylas' last change to the grant, when it said. */
  updatedAt?: number;
}

/**
 * Runs one request of a paged call on the caller's terms (e.g. under a rate-limit token)
 * and returns what the request returned.
 */
export type AroundRequest = <T>(request: () => Promise<T>) => Promise<T>;

const direct: AroundRequest = (request) => request();

/** The largest page Nylas serves for events. */
export const MAX_EVENTS_PAGE = 200;

export class NylasApi {
  readonly sdk: NylasClient;
  private readonly onFailure: NylasSettings["onFailure"];

  constructor(settings: NylasSettings) {
    this.sdk = new Nylas({ apiKey: settings.apiKey, apiUri: settings.apiUri, timeout: settings.timeout ?? 30 });
    this.onFailure = settings.onFailure;
  }

  /** Runs one SDK request, reporting its failure (if any) under the call's name. */
  private async call<T>(name: NylasCall, request: () => Promise<T>): Promise<T> {
    if (!this.onFailure) return request();
    try {
      return await request();
    } catch (err) {
      this.onFailure(name, err);
      throw err;
    }
  }

  /**
   * One page of events, one request: the SDK's `events.list` would fetch further pages within
   * the call when a page comes short of `limit`, outside the caller's rate-limit token. The
   * answer's keys are converted as the SDK converts them (src/nylas/camel-keys.ts).
   */
  async eventsPage(grantId: string, query: EventsPageQuery): Promise<Page<Event>> {
    const res = await this.call("events", async () => {
      const answer = await leanRequest(this.sdk, {
        method: "GET",
        path: `/v3/grants/${pathPart(grantId)}/events`,
        queryParams: {
          calendar_id: query.calendarId,
          start: String(query.start),
          end: String(query.end),
          limit: query.limit ?? MAX_EVENTS_PAGE,
          expand_recurring: query.expandRecurring ?? true,
          ...(query.pageToken ? { page_token: query.pageToken } : {}),
          ...(query.showCancelled ? { show_cancelled: true } : {}),
        },
      });
      return listPage(answer.body);
    });
    return { items: res.items as unknown as Event[], nextCursor: res.nextCursor };
  }

  /** One event by id, or undefined when Nylas has none (404: deleted, or never there). */
  async event(grantId: string, eventId: string, calendarId: string): Promise<Event | undefined> {
    try {
      const res = await this.call("events", () =>
        this.sdk.events.find({ identifier: grantId, eventId, queryParams: { calendarId } }),
      );
      return res.data;
    } catch (err) {
      if (classifyError(err).status === 404) return undefined;
      throw err;
    }
  }

  /** Every event of the window across all pages; each page's request runs through `around`. */
  async *events(
    grantId: string,
    query: Omit<EventsPageQuery, "pageToken">,
    around: AroundRequest = direct,
  ): AsyncGenerator<Event[]> {
    let pageToken: string | undefined;
    do {
      const page = await around(() => this.eventsPage(grantId, { ...query, pageToken }));
      yield page.items;
      pageToken = page.nextCursor;
    } while (pageToken);
  }

  /**
   * Sends a message as the grant. With `idempotencyKey` (Nylas' `Idempotency-Key`, at most
   * 256 characters, kept by Nylas for one hour per grant), a retry with the same key and the
   * same message is answered with the first answer instead of sending again; `replayed` says
   * the answer came from there (`Idempotent-Response: true`).
   */
  async send(grantId: string, message: OutgoingMessage, idempotencyKey?: string): Promise<SendResult> {
    // The body as the SDK's `messages.send` writes it (snake_case keys, JSON): a reminder is
    // far below the 3 MB from which the SDK would send a form instead.
    const body = JSON.stringify({
      to: message.to,
      subject: message.subject,
      body: message.body,
      ...(message.isPlaintext ? { is_plaintext: true } : {}),
      ...(message.customHeaders?.length ? { custom_headers: message.customHeaders } : {}),
    });
    const answer = await this.call("send", () =>
      leanRequest(this.sdk, {
        method: "POST",
        path: `/v3/grants/${pathPart(grantId)}/messages/send`,
        body,
        ...(idempotencyKey !== undefined ? { headers: { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey } } : {}),
      }),
    );
    const id = sentMessageId(answer.body);
    if (id === undefined) throw new Error("Nylas accepted the send but its answer names no message id");
    const replayed = answer.headers.get(IDEMPOTENT_RESPONSE_HEADER)?.toLowerCase() === "true";
    return { id, replayed };
  }

  /** The grant's Sent folder since `after` (Unix seconds), newest first, with headers. */
  async sentPage(
    grantId: string,
    opts: { after: number; limit?: number; pageToken?: string },
  ): Promise<Page<SentMessage>> {
    return this.searchFolder(grantId, { ...opts, folderId: "SENT", headers: true });
  }

  /** The id of the grant's folder with the `\Sent` attribute, or undefined when it has none. */
  async sentFolderId(grantId: string): Promise<string | undefined> {
    let pageToken: string | undefined;
    do {
      const res = await this.call("folders", () =>
        this.sdk.folders.list({ identifier: grantId, queryParams: pageToken ? { pageToken } : undefined }),
      );
      const sent = (res.data ?? []).find((f) => f.attributes?.some((a) => a.toLowerCase() === "\\sent"));
      if (sent) return sent.id;
      pageToken = res.nextCursor || undefined;
    } while (pageToken);
    return undefined;
  }

  /** Messages of one folder since `after`, newest first, filtered as Nylas filters them. */
  async searchFolder(grantId: string, q: FolderSearch): Promise<Page<SentMessage>> {
    const res = await this.call("sent_folder", () =>
      this.sdk.messages.list({
        identifier: grantId,
        queryParams: {
          in: [q.folderId],
          receivedAfter: q.after,
          limit: q.limit ?? 50,
          ...(q.subject !== undefined ? { subject: q.subject } : {}),
          ...(q.to !== undefined ? { to: [q.to] } : {}),
          ...(q.headers ? { fields: "include_headers" as never } : {}),
          ...(q.pageToken ? { pageToken: q.pageToken } : {}),
        },
      }),
    );
    return { items: (res.data ?? []).map(toSentMessage), nextCursor: res.nextCursor || undefined };
  }

  async grant(grantId: string): Promise<GrantInfo> {
    const res = await this.call("grant", () => this.sdk.grants.find({ grantId }));
    return toGrantInfo(res.data);
  }

  /**
   * Custom authentication (`POST /v3/connect/custom`): the grant for a user's provider
   * credentials (a refresh token, IMAP settings), the existing one for an address that has one.
   * The credentials go in the request body and nowhere else; a failure carries only what
   * Nylas said. Only the bulk import calls it, a command outside the worker's metrics.
   */
  async customAuthentication(provider: string, settings: Record<string, string | number>): Promise<GrantInfo> {
    const res = await this.sdk.auth.customAuthentication({ requestBody: { provider: provider as never, settings } });
    return toGrantInfo(res.data);
  }

  async grantsPage(opts: { limit: number; offset: number }): Promise<GrantInfo[]> {
    const queryParams = { limit: opts.limit, offset: opts.offset };
    const res = await this.call("grants", () => this.sdk.grants.list({ queryParams }));
    return (res.data ?? []).map(toGrantInfo);
  }

  /**
   * The grant's calendars (`GET /grants/{id}/calendars`), up to `maxPages` pages of 200: how an
   * iCloud grant, which has no `primary`, finds the calendar its meetings are in.
   */
  async calendars(grantId: string, maxPages = 3): Promise<CalendarInfo[]> {
    const out: CalendarInfo[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const queryParams = { limit: 200, ...(pageToken ? { pageToken } : {}) };
      const res = await this.call("calendar", () => this.sdk.calendars.list({ identifier: grantId, queryParams }));
      for (const c of (res.data ?? []) as Calendar[]) out.push(toCalendarInfo(c));
      pageToken = res.nextCursor || undefined;
      if (!pageToken) break;
    }
    return out;
  }

  /** The calendar's IANA time zone, or undefined when the provider gives none. */
  async calendarZone(grantId: string, calendarId = "primary"): Promise<string | undefined> {
    const res = await this.call("calendar", () => this.sdk.calendars.find({ identifier: grantId, calendarId }));
    const zone = res.data?.timezone;
    return typeof zone === "string" && zone.length > 0 ? zone : undefined;
  }
}

function toGrantInfo(g: NylasGrant): GrantInfo {
  return {
    id: g.id,
    email: g.email ?? "",
    provider: g.provider,
    status: g.grantStatus === "invalid" ? "invalid" : "valid",
    ...(typeof g.updatedAt === "number" ? { updatedAt: g.updatedAt } : {}),
  };
}

function toSentMessage(m: Message): SentMessage {
  return {
    id: m.id,
    date: m.date,
    subject: m.subject,
    to: (m.to ?? []).map((p) => p.email).filter((e): e is string => typeof e === "string"),
    headers: normaliseHeaders(m.headers),
  };
}

function toCalendarInfo(c: Calendar): CalendarInfo {
  return {
    id: c.id,
    isPrimary: c.isPrimary === true,
    isOwnedByUser: c.isOwnedByUser === true,
    readOnly: c.readOnly === true,
    ...(typeof c.timezone === "string" && c.timezone.length > 0 ? { timezone: c.timezone } : {}),
  };
}

function normaliseHeaders(headers: unknown): { name: string; value: string }[] {
  if (!Array.isArray(headers)) return [];
  return headers.filter(
    (h): h is { name: string; value: string } => typeof h?.name === "string" && typeof h?.value === "string",
  );
}

/**
 * A list answer's items (keys converted) and cursor, read as the SDK reads them, including
 * the nested envelope some list endpoints use (`data: { items, next_cursor }`).
 */
function listPage(body: unknown): { items: Record<string, unknown>[]; nextCursor?: string } {
  const answer = camelKeys(body);
  let data = answer.data;
  let cursor = answer.nextCursor;
  if (data !== null && typeof data === "object" && !Array.isArray(data)) {
    const nested = data as Record<string, unknown>;
    if (Array.isArray(nested.items)) {
      data = nested.items;
      cursor = nested.nextCursor ?? cursor;
    }
  }
  if (!Array.isArray(data)) throw new Error("Nylas answered a list without a data array");
  const more = (typeof cursor === "string" && cursor !== "") || (typeof cursor === "number" && cursor !== 0);
  return { items: data as Record<string, unknown>[], ...(more ? { nextCursor: String(cursor) } : {}) };
}

/** A path parameter encoded as the SDK encodes it: decoded first, so it is never encoded twice. */
function pathPart(value: string): string {
  if (/^[\w.~-]*$/.test(value)) return value; // a grant id: nothing to encode
  try {
    return encodeURIComponent(decodeURIComponent(value));
  } catch {
    return encodeURIComponent(value);
  }
}

/** The id of the message a send answered with (`data.id`). */
function sentMessageId(body: unknown): string | undefined {
  const data = (body as { data?: unknown } | null)?.data as { id?: unknown } | null | undefined;
  return typeof data?.id === "string" && data.id !== "" ? data.id : undefined;
}
