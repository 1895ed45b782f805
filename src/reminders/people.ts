import { sqlOf, type Db, type Sql } from "../db/client.js";
import { Coalescer } from "../db/coalesce.js";
import type { Selection } from "./meeting.js";
import { coverPeople, type PeerRow } from "./covered.js";
import { READ_PEOPLE_FACTS } from "./sql.js";

/**
 * What a run must know about its meetings' people before it sends, in one read: the
 * recipients its sender may not remind (src/optout) and the connected grants among them
 * (src/reminders/covered.ts). Concurrent runs of the process share one statement
 * (src/db/coalesce.ts). Nothing is read when the selection has no recipients.
 */
export interface PeopleFacts {
  /** Lowercased addresses the suppression list keeps from this sender. */
  suppressed: Set<string>;
  /** The grant's own row and the grants that can run among the people (see `withoutCoveredBy`). */
  grants: PeerRow[];
}

interface FactsQuery {
  grantId: string;
  sender: string;
  recipients: string[];
  people: string[];
}

interface FactRow {
  idx: number;
  kind: "suppressed" | "grant";
  id: string;
  email: string | null;
  policy: PeerRow["policy"];
}

const norm = (address: string) => address.trim().toLowerCase();

export class PeopleReader {
  private readonly sql: Sql;

  constructor(db: Db) {
    this.sql = sqlOf(db);
  }

  /** The facts about `selection`'s people for a run of `grant` (its address is the sender). */
  async read(grant: { id: string; email: string }, selection: Selection): Promise<PeopleFacts> {
    const recipients = [...new Set(selection.meetings.flatMap((m) => m.recipients.map((r) => norm(r.email))))];
    if (recipients.length === 0) return { suppressed: new Set(), grants: [] };
    return this.facts.one({ grantId: grant.id, sender: norm(grant.email), recipients, people: coverPeople(selection) });
  }

  private readonly facts = new Coalescer<FactsQuery, PeopleFacts>(async (qs) => {
    const pairs = (f: (q: FactsQuery) => string[]) => {
      const idx: number[] = [];
      const addresses: string[] = [];
      qs.forEach((q, i) => {
        for (const a of f(q)) {
          idx.push(i);
          addresses.push(a);
        }
      });
      return [idx, addresses] as const;
    };
    const [sIdx, sAddr] = pairs((q) => q.recipients);
    const [pIdx, pAddr] = pairs((q) => q.people);
    const rows = await this.sql.query<FactRow>(READ_PEOPLE_FACTS, [
      qs.map((_, i) => i),
      qs.map((q) => q.grantId),
      qs.map((q) => q.sender),
      sIdx,
      sAddr,
      pIdx,
      pAddr,
    ]);
    const out: PeopleFacts[] = qs.map(() => ({ suppressed: new Set(), grants: [] }));
    for (const r of rows) {
      const f = out[r.idx]!;
      if (r.kind === "suppressed") f.suppressed.add(r.id);
      else if (!f.grants.some((g) => g.id === r.id)) f.grants.push({ id: r.id, email: r.email!, policy: r.policy });
    }
    return out;
  });
}
