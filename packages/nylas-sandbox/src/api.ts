/** Handlers for the Nylas v3 data routes. Each returns the JSON body (without request_id). */
import { badRequest, notFound } from "./errors.js";
import { decodeCursor, encodeCursor, queryEvents } from "./events.js";
import { checkFolderIds, findFolder, listFolders, sentFolderId } from "./folders.js";
import { headersFor, listMessages, parseMessageQuery, storeSent, validateSend } from "./messages.js";
import type { RateLimiter } from "./limits.js";
import { exceedsMonths, ICLOUD_RANGE_MESSAGE, PROVIDER_LABEL, profileOf } from "./providers.js";
import { requireCalendars, type GrantState, type SandboxStore } from "./store.js";
import { providerRateLimit } from "./throttle.js";
import type { MessageRecord, WireGrant } from "./types.js";
import { bool, int } from "./validate.js";

export type Json = Record<string, unknown>;

export function listGrants(store: SandboxStore, q: URLSearchParams, cache: GrantSortCache): Json {
  const limitRaw = q.get("limit");
  const limit = limitRaw === null || limitRaw === "" ? 10 : int(limitRaw, "limit", 1, 1000);
  const offsetRaw = q.get("offset");
  const offset = offsetRaw === null || offsetRaw === "" ? 0 : int(offsetRaw, "offset", 0);
  const sortBy = q.get("sort_by") ?? "created_at";
  if (sortBy !== "created_at" && sortBy !== "updated_at") throw badRequest("sort_by must be created_at or updated_at");
  const orderBy = q.get("order_by") ?? "desc";
  if (orderBy !== "desc" && orderBy !== "asc") throw badRequest("order_by must be desc or asc");
  const provider = q.get("provider");
  const status = q.get("grant_status");
  if (status !== null && status !== "valid" && status !== "invalid")
    throw badRequest("grant_status must be valid or invalid");
  const email = q.get("email")?.toLowerCase();
  const since = q.get("since") ? int(q.get("since"), "since", 0) : undefined;
  const before = q.get("before") ? int(q.get("before"), "before", 0) : undefined;
  const sorted = cache.get(store, sortBy, orderBy);
  const data: WireGrant[] = [];
  const filtered =
    provider !== null || status !== null || email !== undefined || since !== undefined || before !== undefined;
  if (!filtered) {
    for (let i = offset; i < sorted.length && data.length < limit; i++) data.push(store.reportedGrant(sorted[i]!));
  } else {
    let skipped = 0;
    for (const g of sorted) {
      const w = store.reportedGrant(g);
      if (provider !== null && w.provider !== provider) continue;
      if (status !== null && w.grant_status !== status) continue;
      if (email !== undefined && w.email.toLowerCase() !== email) continue;
      if (since !== undefined && w.created_at < since) continue;
      if (before !== undefined && w.created_at >= before) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      data.push(w);
      if (data.length >= limit) break;
    }
  }
  return { data, limit, offset };
}

/** Sorted grant views, rebuilt only when a grant changed. */
export class GrantSortCache {
  private version = -1;
  private views = new Map<string, GrantState[]>();

  get(store: SandboxStore, sortBy: string, orderBy: string): GrantState[] {
    if (store.version !== this.version) {
      this.views.clear();
      this.version = store.version;
    }
    const key = sortBy + orderBy;
    let v = this.views.get(key);
    if (!v) {
      const field = sortBy as "created_at" | "updated_at";
      const dir = orderBy === "asc" ? 1 : -1;
      // Ties keep creation order, so paging with offset is stable.
      v = store.grantOrder
        .map((g, i) => ({ g, i }))
        .sort((a, b) => (a.g.grant[field] - b.g.grant[field]) * dir || (a.i - b.i) * dir)
        .map((x) => x.g);
      this.views.set(key, v);
    }
    return v;
  }
}

export function findGrant(store: SandboxStore, grantId: string): Json {
  return { data: store.reportedGrant(store.requireGrant(grantId)) };
}

export function listCalendars(g: GrantState): Json {
  requireCalendars(g);
  return { data: [...g.calendars.values()].map((c) => c.wire) };
}

export function findCalendar(store: SandboxStore, g: GrantState, calendarId: string): Json {
  return { data: store.apiCalendar(g, calendarId).wire };
}

const MONTH = 31 * 86_400;

export function listEvents(store: SandboxStore, g: GrantState, q: URLSearchParams): Json {
  requireCalendars(g);
  const calendarId = q.get("calendar_id");
  if (!calendarId) throw badRequest("calendar_id is required (use primary for the default calendar)");
  const cal = store.apiCalendar(g, calendarId);
  const limitRaw = q.get("limit");
  const limit = limitRaw === null || limitRaw === "" ? 50 : int(limitRaw, "limit", 1, 200);
  const startRaw = q.get("start");
  const endRaw = q.get("end");
  let ws = startRaw !== null && startRaw !== "" ? int(startRaw, "start", 0) : undefined;
  let we = endRaw !== null && endRaw !== "" ? int(endRaw, "end", 0) : undefined;
  const token = q.get("page_token");
  let after: { s: number; id: string } | undefined;
  if (token) {
    const c = decodeCursor(token);
    if (!c) throw badRequest("page_token is not valid");
    if ((ws !== undefined && ws !== c.ws) || (we !== undefined && we !== c.we))
      throw badRequest("page_token does not belong to this start/end window");
    ws = c.ws;
    we = c.we;
    after = { s: c.s, id: c.id };
  }
  // Nylas' defaults: start = now, end = a month after start.
  ws ??= store.nowSec();
  we ??= ws + MONTH;
  if (ws > we) throw badRequest("start must not be later than end");
  const months = profileOf(g.grant.provider).maxEventRangeMonths;
  if (months !== undefined && exceedsMonths(ws, we, months)) throw badRequest(ICLOUD_RANGE_MESSAGE);
  const query: Parameters<typeof queryEvents>[1] = {
    ws,
    we,
    limit,
    expand: bool(q.get("expand_recurring"), "expand_recurring"),
    showCancelled: bool(q.get("show_cancelled"), "show_cancelled"),
  };
  if (after) query.after = after;
  const { items, next } = queryEvents(cal.index, query);
  const out: Json = { data: items.map((i) => i.ev) };
  if (next) out.next_cursor = encodeCursor(next, ws, we);
  return out;
}

export function findEvent(store: SandboxStore, g: GrantState, eventId: string, q: URLSearchParams): Json {
  requireCalendars(g);
  const calendarId = q.get("calendar_id");
  if (!calendarId) throw badRequest("calendar_id is required");
  const cal = store.apiCalendar(g, calendarId);
  const rec = cal.index.byId.get(eventId);
  if (!rec) throw notFound(`event ${eventId} not found`);
  return { data: rec.ev };
}

/** 400 on the email routes of a grant without a mailbox (virtual calendars). */
export function requireMail(g: GrantState): void {
  if (!profileOf(g.grant.provider).mail)
    throw badRequest(`email is not supported for ${PROVIDER_LABEL[g.grant.provider]} grants`);
}

export function sendMessage(
  g: GrantState,
  body: unknown,
  limiter: RateLimiter,
  nowMs: number,
  onSent: (rec: MessageRecord) => void,
): Json {
  requireMail(g);
  const req = validateSend(body);
  const retry = limiter.hitSend(g.grant.id, g.grant.provider, Date.now());
  if (retry > 0) throw providerRateLimit(limiter, g.grant.provider, retry, "send");
  const msg = storeSent(g, req, nowMs, sentFolderId(g));
  onSent(g.messagesById.get(msg.id)!);
  return { grant_id: g.grant.id, data: msg };
}

/** 400 for `fields=include_headers` where the spec says it is not supported (IMAP, iCloud, Yahoo). */
function checkHeadersSupported(g: GrantState, includeHeaders: boolean): void {
  if (includeHeaders && profileOf(g.grant.provider).headers === "unsupported")
    throw badRequest(`fields=include_headers is not supported for ${PROVIDER_LABEL[g.grant.provider]} grants`);
}

export function getMessages(g: GrantState, q: URLSearchParams, hideHeaders = false): Json {
  requireMail(g);
  const query = parseMessageQuery(q);
  checkHeadersSupported(g, query.includeHeaders);
  checkFolderIds(g, query.folders);
  const { data, nextCursor } = listMessages(g, { ...query, hideHeaders });
  const out: Json = { data };
  if (nextCursor) out.next_cursor = nextCursor;
  return out;
}

export function findMessage(g: GrantState, id: string, q: URLSearchParams, hideHeaders = false): Json {
  requireMail(g);
  const fields = q.get("fields");
  const includeHeaders = fields === "include_headers" || fields === "include_basic_headers";
  checkHeadersSupported(g, includeHeaders);
  const rec = g.messagesById.get(id);
  if (!rec) throw notFound(`message ${id} not found`);
  return { data: includeHeaders ? { ...rec.msg, headers: hideHeaders ? [] : headersFor(g, rec) } : rec.msg };
}

export function getFolders(g: GrantState, q: URLSearchParams): Json {
  requireMail(g);
  return { ...listFolders(g, q) };
}

export function getFolder(g: GrantState, id: string): Json {
  requireMail(g);
  return findFolder(g, id);
}
