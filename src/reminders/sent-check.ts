import type { NylasApi, Page, SentMessage } from "../nylas/client.js";
import type { SentCheckMethod } from "../nylas/providers.js";

/** Custom header every reminder carries: the ledger row's marker. */
export const MARKER_HEADER = "X-Reminder-Id";

/** Pages of the Sent folder searched at most; reminders are recent, so a few suffice. */
const MAX_PAGES = 10;

/** What is known of a reminder that an earlier attempt may have sent. */
export interface SentQuery {
  marker: string;
  /** The reminder's subject: deterministic, so a retry composes the same one. */
  subject: string;
  recipients: readonly { email: string }[];
  /** Unix seconds: no earlier message can be it. */
  sinceUnix: number;
}

/** The id of the grant's sent message that is this reminder; undefined when there is none. */
export type SentLookup = (q: SentQuery) => Promise<string | undefined>;

/**
 * The check a grant's provider supports (see `sentCheckMethod`), or undefined when it has
 * none: then nothing found would prove nothing.
 */
export function sentLookup(nylas: NylasApi, grantId: string, method: SentCheckMethod): SentLookup | undefined {
  if (method === "marker_header") return (q) => findByMarker(nylas, grantId, q);
  if (method === "subject_search") return (q) => findBySubject(nylas, grantId, q);
  return undefined;
}

/** Google: the Sent folder (`SENT` is its id there) with headers, matched by the marker. */
function findByMarker(nylas: NylasApi, grantId: string, q: SentQuery): Promise<string | undefined> {
  const after = Math.max(0, Math.floor(q.sinceUnix));
  return firstMatch(
    (pageToken) => nylas.sentPage(grantId, { after, limit: 50, pageToken }),
    (m) => carriesMarker(m, q.marker),
  );
}

/**
 * Microsoft: no headers in the Sent folder, so the folder with the `\Sent` attribute is
 * searched by the reminder's subject and first recipient, and a message counts only when
 * its subject and recipients are exactly the reminder's.
 */
async function findBySubject(nylas: NylasApi, grantId: string, q: SentQuery): Promise<string | undefined> {
  const folderId = await nylas.sentFolderId(grantId);
  if (folderId === undefined) throw new NoSentFolder();
  const search = { folderId, after: Math.max(0, Math.floor(q.sinceUnix)), subject: q.subject, limit: 50 };
  const to = q.recipients[0]?.email;
  return firstMatch(
    (pageToken) => nylas.searchFolder(grantId, { ...search, to, pageToken }),
    (m) => isSameReminder(m, q),
  );
}

/** The id of the first message on up to MAX_PAGES pages that matches. */
async function firstMatch(
  page: (pageToken: string | undefined) => Promise<Page<SentMessage>>,
  matches: (m: SentMessage) => boolean,
): Promise<string | undefined> {
  let pageToken: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const res = await page(pageToken);
    const found = res.items.find(matches);
    if (found) return found.id;
    pageToken = res.nextCursor;
    if (!pageToken) return undefined;
  }
  return undefined;
}

/** The mailbox has no folder Nylas marks `\Sent`: the check cannot be made. */
export class NoSentFolder extends Error {
  override name = "NoSentFolder";
  constructor() {
    super("the mailbox has no folder with the \\Sent attribute");
  }
}

export function carriesMarker(message: Pick<SentMessage, "headers">, marker: string): boolean {
  return message.headers.some((h) => h.name.toLowerCase() === MARKER_HEADER.toLowerCase() && h.value.trim() === marker);
}

/** Same subject (Nylas' filter is partial) and the same set of recipients, case aside. */
export function isSameReminder(message: Pick<SentMessage, "subject" | "to">, q: SentQuery): boolean {
  if ((message.subject ?? "").trim().toLowerCase() !== q.subject.trim().toLowerCase()) return false;
  const want = new Set(q.recipients.map((r) => r.email.toLowerCase()));
  const got = new Set(message.to.map((e) => e.toLowerCase()));
  return want.size === got.size && [...want].every((e) => got.has(e));
}
