import type { NylasApi } from "../nylas/client.js";

/** Custom header every reminder carries: the ledger row's marker. */
export const MARKER_HEADER = "X-Reminder-Id";

/** Pages of the Sent folder searched at most; reminders are recent, so a few suffice. */
const MAX_PAGES = 10;

/**
 * Looks for a reminder in the grant's Sent folder by its marker header. Used only when an
 * earlier attempt claimed the reminder and never recorded the outcome, so that a send whose
 * ledger update was lost is neither repeated nor dropped. Returns the message id.
 */
export async function findSentByMarker(
  nylas: NylasApi,
  grantId: string,
  marker: string,
  sinceUnix: number,
): Promise<string | undefined> {
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await nylas.sentPage(grantId, { after: Math.max(0, Math.floor(sinceUnix)), limit: 50, pageToken });
    for (const message of res.items) {
      if (
        message.headers.some((h) => h.name.toLowerCase() === MARKER_HEADER.toLowerCase() && h.value.trim() === marker)
      )
        return message.id;
    }
    pageToken = res.nextCursor;
    if (!pageToken) return undefined;
  }
  return undefined;
}
