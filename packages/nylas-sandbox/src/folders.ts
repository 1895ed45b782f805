/**
 * Each provider's folders as GET /folders shows them (spec: components/schemas/folder): Google's
 * label ids (`SENT`, `INBOX`, …) with `system_folder`; Microsoft's and EWS' opaque ids with
 * `parent_id` and `child_count`; IMAP's, iCloud's and Yahoo's own names behind opaque ids. The
 * folder of sent mail carries `attributes: ["\\Sent"]` everywhere; sent messages are filed there.
 * A grant's folders are derived from its id on first use and kept, so they never change.
 */
import { createHash } from "node:crypto";
import { badRequest, notFound } from "./errors.js";
import type { GrantState } from "./store.js";
import type { Provider, WireFolder } from "./types.js";
import { int } from "./validate.js";

interface FolderTemplate {
  /** Google's label id; for the others, the seed of the opaque id. */
  key: string;
  name: string;
  attributes: string[];
  /** Google: created by Google (true) or by the user. */
  system?: boolean;
  /** Microsoft/EWS: key of the parent folder (default: the hidden root). */
  parent?: string;
  /** Holds the grant's sent mail. */
  sent?: true;
}

const GOOGLE: readonly FolderTemplate[] = [
  { key: "INBOX", name: "INBOX", attributes: ["\\Inbox"], system: true },
  { key: "SENT", name: "SENT", attributes: ["\\Sent"], system: true, sent: true },
  { key: "DRAFT", name: "DRAFT", attributes: ["\\Drafts"], system: true },
  { key: "TRASH", name: "TRASH", attributes: ["\\Trash"], system: true },
  { key: "SPAM", name: "SPAM", attributes: ["\\Junk"], system: true },
  { key: "STARRED", name: "STARRED", attributes: ["\\Flagged"], system: true },
  { key: "IMPORTANT", name: "IMPORTANT", attributes: ["\\Important"], system: true },
  { key: "Label_1", name: "Receipts", attributes: [], system: false },
];

const MICROSOFT: readonly FolderTemplate[] = [
  { key: "inbox", name: "Inbox", attributes: ["\\Inbox"] },
  { key: "receipts", name: "Receipts", attributes: [], parent: "inbox" },
  { key: "drafts", name: "Drafts", attributes: ["\\Drafts"] },
  { key: "sentitems", name: "Sent Items", attributes: ["\\Sent"], sent: true },
  { key: "deleteditems", name: "Deleted Items", attributes: ["\\Trash"] },
  { key: "junkemail", name: "Junk Email", attributes: ["\\Junk"] },
  { key: "archive", name: "Archive", attributes: ["\\Archive"] },
  { key: "outbox", name: "Outbox", attributes: [] },
];

const IMAP: readonly FolderTemplate[] = [
  { key: "INBOX", name: "INBOX", attributes: ["\\Inbox"] },
  { key: "Sent", name: "Sent", attributes: ["\\Sent"], sent: true },
  { key: "Drafts", name: "Drafts", attributes: ["\\Drafts"] },
  { key: "Trash", name: "Trash", attributes: ["\\Trash"] },
  { key: "Junk", name: "Junk", attributes: ["\\Junk"] },
  { key: "Archive", name: "Archive", attributes: ["\\Archive"] },
];

const ICLOUD: readonly FolderTemplate[] = [
  { key: "INBOX", name: "INBOX", attributes: ["\\Inbox"] },
  { key: "Sent Messages", name: "Sent Messages", attributes: ["\\Sent"], sent: true },
  { key: "Drafts", name: "Drafts", attributes: ["\\Drafts"] },
  { key: "Deleted Messages", name: "Deleted Messages", attributes: ["\\Trash"] },
  { key: "Junk", name: "Junk", attributes: ["\\Junk"] },
  { key: "Archive", name: "Archive", attributes: ["\\Archive"] },
];

const YAHOO: readonly FolderTemplate[] = [
  { key: "Inbox", name: "Inbox", attributes: ["\\Inbox"] },
  { key: "Sent", name: "Sent", attributes: ["\\Sent"], sent: true },
  { key: "Draft", name: "Draft", attributes: ["\\Drafts"] },
  { key: "Trash", name: "Trash", attributes: ["\\Trash"] },
  { key: "Bulk", name: "Bulk", attributes: ["\\Junk"] },
  { key: "Archive", name: "Archive", attributes: ["\\Archive"] },
];

const TEMPLATES: Partial<Record<Provider, readonly FolderTemplate[]>> = {
  google: GOOGLE,
  microsoft: MICROSOFT,
  ews: MICROSOFT,
  imap: IMAP,
  icloud: ICLOUD,
  yahoo: YAHOO,
};

/** A grant's folders, fixed once derived. */
export interface FolderSet {
  list: readonly WireFolder[];
  byId: ReadonlyMap<string, WireFolder>;
  sentId: string;
}

const sets = new WeakMap<GrantState, FolderSet>();

function digest(text: string, encoding: "base64url" | "hex"): string {
  return createHash("sha256").update(text).digest(encoding);
}

/** Graph-like ids (`AAMkA…`), or short opaque ids for IMAP-style providers. */
function opaqueId(provider: Provider, grantId: string, key: string): string {
  if (provider === "microsoft" || provider === "ews") return `AAMkA${digest(`${grantId}/${key}`, "base64url")}AAA=`;
  return digest(`${provider}/${grantId}/${key}`, "hex").slice(0, 24);
}

function build(g: GrantState): FolderSet {
  const provider = g.grant.provider;
  const templates = TEMPLATES[provider] ?? [];
  const graphLike = provider === "microsoft" || provider === "ews";
  const idOf = (key: string) => (provider === "google" ? key : opaqueId(provider, g.grant.id, key));
  const list: WireFolder[] = templates.map((t) => {
    const f: WireFolder = {
      id: idOf(t.key),
      grant_id: g.grant.id,
      object: "folder",
      name: t.name,
      attributes: [...t.attributes],
      total_count: 0,
      unread_count: 0,
    };
    if (provider === "google") f.system_folder = t.system ?? true;
    if (graphLike) {
      f.parent_id = idOf(t.parent ?? "msgfolderroot");
      f.child_count = templates.filter((c) => c.parent === t.key).length;
    }
    return f;
  });
  const sent = templates.findIndex((t) => t.sent);
  return { list, byId: new Map(list.map((f) => [f.id, f])), sentId: sent >= 0 ? list[sent]!.id : "SENT" };
}

export function foldersOf(g: GrantState): FolderSet {
  let set = sets.get(g);
  if (!set) {
    set = build(g);
    sets.set(g, set);
  }
  return set;
}

/** The id of the folder sent mail is filed in (Google: `SENT`). */
export function sentFolderId(g: GrantState): string {
  return foldersOf(g).sentId;
}

/** A folder as answered: the Sent folder counts the grant's mailbox (all of it is sent mail). */
function withCounts(g: GrantState, f: WireFolder, sentId: string): WireFolder {
  return f.id === sentId ? { ...f, total_count: g.messages.length } : { ...f };
}

/** GET /folders: `limit` (50, at most 200), `page_token`, `parent_id`. */
export function listFolders(g: GrantState, q: URLSearchParams): { data: WireFolder[]; next_cursor?: string } {
  const limitRaw = q.get("limit");
  const limit = limitRaw === null || limitRaw === "" ? 50 : int(limitRaw, "limit", 1, 200);
  const token = q.get("page_token");
  let from = 0;
  if (token) {
    const m = /^f(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
    if (!m) throw badRequest("page_token is not valid");
    from = Number(m[1]);
  }
  const parent = q.get("parent_id");
  const { list, sentId } = foldersOf(g);
  const matching = parent ? list.filter((f) => f.parent_id === parent) : list;
  const data = matching.slice(from, from + limit).map((f) => withCounts(g, f, sentId));
  const out: { data: WireFolder[]; next_cursor?: string } = { data };
  if (from + limit < matching.length) out.next_cursor = Buffer.from(`f${from + limit}`).toString("base64url");
  return out;
}

export function findFolder(g: GrantState, id: string): { data: WireFolder } {
  const set = foldersOf(g);
  const f = set.byId.get(id);
  if (!f) throw notFound(`folder ${id} not found`);
  return { data: withCounts(g, f, set.sentId) };
}

/**
 * The `in` filter of GET /messages: folder ids only. A keyword (`in:inbox`), a folder name or
 * another provider's id (`SENT` on Microsoft) answers 400, as the spec says for keywords.
 */
export function checkFolderIds(g: GrantState, ids: readonly string[]): void {
  const { byId } = foldersOf(g);
  for (const id of ids) {
    if (!byId.has(id)) {
      throw badRequest(
        `in: "${id.slice(0, 100)}" is not a folder id of this grant; use an id from GET /v3/grants/{grant_id}/folders ` +
          "(folder names and keywords such as in:inbox are not supported)",
      );
    }
  }
}
