/**
 * Compares what reached the (sandbox) mailboxes with what should have: every expected
 * reminder sent exactly once, to exactly its recipients, and nothing else. Pure; the demo,
 * the integration tests and the chaos suite all judge a batch with it.
 */

export interface ExpectedDelivery {
  grantId: string;
  eventId: string;
  /** Unix seconds. */
  start: number;
  recipients: string[];
}

export interface ObservedMessage {
  grantId: string;
  messageId: string;
  to: string[];
  /** Value of the reminder's marker header, when it carries one. */
  marker?: string;
}

export interface LedgerEntry {
  grantId: string;
  eventId: string;
  /** Unix seconds. */
  start: number;
  marker: string;
}

export interface DeliveryReport {
  ok: boolean;
  expected: number;
  delivered: number;
  missing: ExpectedDelivery[];
  duplicates: { key: string; count: number }[];
  unexpected: ObservedMessage[];
  wrongRecipients: { key: string; expected: string[]; got: string[] }[];
}

const keyOf = (grantId: string, eventId: string, start: number) => `${grantId}|${eventId}|${start}`;
const norm = (emails: string[]) => [...new Set(emails.map((e) => e.toLowerCase()))].sort();

export function compareDeliveries(expected: ExpectedDelivery[], observed: ObservedMessage[], ledger: LedgerEntry[]): DeliveryReport {
  const byMarker = new Map(ledger.map((l) => [l.marker, l]));
  const want = new Map(expected.map((e) => [keyOf(e.grantId, e.eventId, e.start), e]));
  const got = new Map<string, ObservedMessage[]>();
  const unexpected: ObservedMessage[] = [];

  for (const m of observed) {
    const entry = m.marker ? byMarker.get(m.marker) : undefined;
    if (!entry || entry.grantId !== m.grantId) {
      unexpected.push(m);
      continue;
    }
    const key = keyOf(entry.grantId, entry.eventId, entry.start);
    if (!want.has(key)) {
      unexpected.push(m);
      continue;
    }
    got.set(key, [...(got.get(key) ?? []), m]);
  }

  const missing = [...want.entries()].filter(([k]) => !got.has(k)).map(([, e]) => e);
  const duplicates = [...got.entries()].filter(([, ms]) => ms.length > 1).map(([key, ms]) => ({ key, count: ms.length }));
  const wrongRecipients: DeliveryReport["wrongRecipients"] = [];
  for (const [key, ms] of got) {
    const exp = norm(want.get(key)!.recipients);
    for (const m of ms) {
      const to = norm(m.to);
      if (to.join(",") !== exp.join(",")) wrongRecipients.push({ key, expected: exp, got: to });
    }
  }
  return {
    ok: missing.length === 0 && duplicates.length === 0 && unexpected.length === 0 && wrongRecipients.length === 0,
    expected: want.size,
    delivered: got.size,
    missing,
    duplicates,
    unexpected,
    wrongRecipients,
  };
}

/** One line per problem kind, for logs and the demo's summary. */
export function describeReport(r: DeliveryReport): string {
  if (r.ok) return `all ${r.expected} expected reminders sent exactly once, nothing else`;
  const parts = [`${r.delivered}/${r.expected} expected reminders delivered`];
  if (r.missing.length) parts.push(`${r.missing.length} missing`);
  if (r.duplicates.length) parts.push(`${r.duplicates.length} sent more than once`);
  if (r.unexpected.length) parts.push(`${r.unexpected.length} unexpected messages`);
  if (r.wrongRecipients.length) parts.push(`${r.wrongRecipients.length} with wrong recipients`);
  return parts.join(", ");
}
