/**
 * messages/send validation (as strict as Nylas about the fields the worker uses), the Sent
 * folder copy, and GET messages with the filters the worker needs to find a lost send.
 */
import { randomUUID } from "node:crypto";
import { badRequest } from "./errors.js";
import { sentFolderId } from "./folders.js";
import { profileOf } from "./providers.js";
import { eventId, type GrantState } from "./store.js";
import type { Header, MessageParticipant, MessageRecord, WireMessage } from "./types.js";
import { bool, int, isEmail, isObject } from "./validate.js";

export interface SendRequest {
  to: MessageParticipant[];
  cc: MessageParticipant[];
  bcc: MessageParticipant[];
  reply_to: MessageParticipant[];
  subject: string;
  body: string;
  customHeaders: Header[];
}

function participants(v: unknown, field: string, required: boolean): MessageParticipant[] {
  if (v === undefined || v === null) {
    if (required) throw badRequest(`${field} is required: an array of {name?, email}`);
    return [];
  }
  if (!Array.isArray(v)) throw badRequest(`${field} must be an array of {name?, email}`);
  if (required && v.length === 0) throw badRequest(`${field} must contain at least one recipient`);
  if (v.length > 500) throw badRequest(`${field} has too many recipients (max 500)`);
  return v.map((p, i) => {
    if (!isObject(p)) throw badRequest(`${field}[${i}] must be an object {name?, email}`);
    if (!isEmail(p.email)) throw badRequest(`${field}[${i}].email is not a valid email address`);
    if (p.name !== undefined && p.name !== null && typeof p.name !== "string")
      throw badRequest(`${field}[${i}].name must be a string`);
    const out: MessageParticipant = { email: p.email };
    if (typeof p.name === "string") out.name = p.name;
    return out;
  });
}

// RFC 5322 field names: printable ASCII except colon; no spaces.
const HEADER_NAME = /^[!-9;-~]+$/;

export function validateSend(body: unknown): SendRequest {
  if (!isObject(body)) throw badRequest("error parsing request body: expected a JSON object");
  const to = participants(body.to, "to", true);
  const cc = participants(body.cc, "cc", false);
  const bcc = participants(body.bcc, "bcc", false);
  const reply_to = participants(body.reply_to, "reply_to", false);
  if (body.subject !== undefined && body.subject !== null && typeof body.subject !== "string")
    throw badRequest("subject must be a string");
  if (body.body !== undefined && body.body !== null && typeof body.body !== "string")
    throw badRequest("body must be a string");
  if (body.send_at !== undefined) throw badRequest("send_at (scheduled send) is not supported by the sandbox");
  const customHeaders: Header[] = [];
  if (body.custom_headers !== undefined && body.custom_headers !== null) {
    if (!Array.isArray(body.custom_headers)) throw badRequest("custom_headers must be an array of {name, value}");
    body.custom_headers.forEach((h: unknown, i: number) => {
      if (!isObject(h)) throw badRequest(`custom_headers[${i}] must be an object {name, value}`);
      if (typeof h.name !== "string" || !HEADER_NAME.test(h.name))
        throw badRequest(`custom_headers[${i}].name must be a header field name`);
      if (typeof h.value !== "string" || /[\r\n]/.test(h.value))
        throw badRequest(`custom_headers[${i}].value must be a single-line string`);
      customHeaders.push({ name: h.name, value: h.value });
    });
  }
  return {
    to,
    cc,
    bcc,
    reply_to,
    subject: typeof body.subject === "string" ? body.subject : "",
    body: typeof body.body === "string" ? body.body : "",
    customHeaders,
  };
}

function fmtList(list: MessageParticipant[]): string {
  return list.map((p) => (p.name ? `"${p.name}" <${p.email}>` : p.email)).join(", ");
}

/**
 * Stores the copy filed in the provider's Sent folder (`folderId`, Google: `SENT`); returns the
 * message as the send endpoint answers it (no headers).
 */
/** The headers the spec says a provider cannot carry (List-Unsubscribe on Microsoft and iCloud). */
const LIST_UNSUBSCRIBE = new Set(["list-unsubscribe", "list-unsubscribe-post"]);

export function storeSent(g: GrantState, sent: SendRequest, nowMs: number, folderId = "SENT"): WireMessage {
  const req = profileOf(g.grant.provider).listUnsubscribe
    ? sent
    : { ...sent, customHeaders: sent.customHeaders.filter((h) => !LIST_UNSUBSCRIBE.has(h.name.toLowerCase())) };
  const id = eventId();
  const date = Math.floor(nowMs / 1000);
  const from: MessageParticipant[] = [{ email: g.grant.email }];
  const msg: WireMessage = {
    id,
    object: "message",
    grant_id: g.grant.id,
    thread_id: eventId(),
    subject: req.subject,
    body: req.body,
    snippet: req.body
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 100),
    from,
    to: req.to,
    cc: req.cc,
    bcc: req.bcc,
    reply_to: req.reply_to,
    date,
    folders: [folderId],
    unread: false,
    starred: false,
    attachments: [],
  };
  const headers: Header[] = [
    { name: "From", value: g.grant.email },
    { name: "To", value: fmtList(req.to) },
    ...(req.cc.length ? [{ name: "Cc", value: fmtList(req.cc) }] : []),
    { name: "Subject", value: req.subject },
    { name: "Date", value: new Date(nowMs).toUTCString() },
    { name: "Message-ID", value: `<${randomUUID()}@sandbox.nylas>` },
    { name: "MIME-Version", value: "1.0" },
    { name: "Content-Type", value: "text/html; charset=UTF-8" },
    ...req.customHeaders,
  ];
  const rec: MessageRecord = { msg, headers, custom: req.customHeaders, atMs: nowMs };
  g.messages.push(rec);
  g.messagesById.set(id, rec);
  return msg;
}

export interface MessageQuery {
  limit: number;
  cursor?: number;
  folders: string[];
  receivedAfter?: number;
  receivedBefore?: number;
  subject?: string;
  to?: string;
  from?: string;
  anyEmail?: string[];
  threadId?: string;
  includeHeaders: boolean;
  /** Headers come back empty even when asked for (an injected "hide_headers" fault). */
  hideHeaders?: boolean;
}

export function parseMessageQuery(q: URLSearchParams): MessageQuery {
  const limitRaw = q.get("limit");
  const limit = limitRaw === null || limitRaw === "" ? 50 : int(limitRaw, "limit", 1, 200);
  const out: MessageQuery = {
    limit,
    folders: q
      .getAll("in")
      .flatMap((s) => s.split(","))
      .filter(Boolean),
    includeHeaders: false,
  };
  const token = q.get("page_token");
  if (token) {
    const m = /^m(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
    if (!m) throw badRequest("page_token is not valid");
    out.cursor = Number(m[1]);
  }
  const ra = q.get("received_after");
  if (ra !== null && ra !== "") out.receivedAfter = int(ra, "received_after", 0);
  const rb = q.get("received_before");
  if (rb !== null && rb !== "") out.receivedBefore = int(rb, "received_before", 0);
  const subject = q.get("subject");
  if (subject) out.subject = subject.toLowerCase();
  const to = q.get("to");
  if (to) out.to = to.toLowerCase();
  const from = q.get("from");
  if (from) out.from = from.toLowerCase();
  const any = q.get("any_email");
  if (any) {
    out.anyEmail = any
      .toLowerCase()
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    if (out.anyEmail.length > 25) throw badRequest("any_email takes at most 25 email addresses");
  }
  const thread = q.get("thread_id");
  if (thread) out.threadId = thread;
  const fields = q.get("fields");
  if (fields) {
    if (
      !["standard", "include_headers", "include_basic_headers", "include_tracking_options", "raw_mime"].includes(fields)
    ) {
      throw badRequest(
        "fields must be one of standard, include_headers, include_basic_headers, include_tracking_options, raw_mime",
      );
    }
    out.includeHeaders = fields === "include_headers" || fields === "include_basic_headers";
  }
  bool(q.get("unread"), "unread");
  return out;
}

/**
 * The headers `fields=include_headers` shows for a message, by the provider's rule: Microsoft
 * Graph's are always empty in the Sent folder, EWS' for mail the grant sent itself.
 */
export function headersFor(g: GrantState, rec: MessageRecord): Header[] {
  switch (profileOf(g.grant.provider).headers) {
    case "empty_in_sent":
      return rec.msg.folders.includes(sentFolderId(g)) ? [] : rec.headers;
    case "empty_if_sent_by_grant":
      return rec.msg.from.some((p) => p.email.toLowerCase() === g.grant.email.toLowerCase()) ? [] : rec.headers;
    default:
      return rec.headers;
  }
}

/** Newest first; the cursor is the array position of the next message to look at
 *  (the mailbox is append-only, so positions are stable while new mail arrives). */
export function listMessages(g: GrantState, q: MessageQuery): { data: WireMessage[]; nextCursor?: string } {
  const data: WireMessage[] = [];
  const has = (list: MessageParticipant[], email: string) => list.some((p) => p.email.toLowerCase() === email);
  let i = q.cursor !== undefined ? Math.min(q.cursor, g.messages.length - 1) : g.messages.length - 1;
  for (; i >= 0; i--) {
    const r = g.messages[i]!;
    const m = r.msg;
    // Received before the window start: nothing older can match either.
    if (q.receivedAfter !== undefined && m.date <= q.receivedAfter) break;
    if (q.receivedBefore !== undefined && m.date >= q.receivedBefore) continue;
    if (q.folders.length && !q.folders.some((f) => m.folders.includes(f))) continue;
    if (q.subject !== undefined && !m.subject.toLowerCase().includes(q.subject)) continue;
    if (q.to !== undefined && !has(m.to, q.to)) continue;
    if (q.from !== undefined && !has(m.from, q.from)) continue;
    if (q.threadId !== undefined && m.thread_id !== q.threadId) continue;
    if (q.anyEmail && !q.anyEmail.some((e) => has(m.to, e) || has(m.from, e) || has(m.cc, e) || has(m.bcc, e)))
      continue;
    if (data.length === q.limit) {
      return { data, nextCursor: Buffer.from(`m${i}`).toString("base64url") };
    }
    data.push(q.includeHeaders ? { ...m, headers: q.hideHeaders ? [] : headersFor(g, r) } : m);
  }
  return { data };
}
