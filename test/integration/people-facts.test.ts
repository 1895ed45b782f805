import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { suppress, undo, listSuppressedFor } from "../../src/optout/store.js";
import { withoutCoveredBy } from "../../src/reminders/covered.js";
import { withoutCoveredMeetings } from "../support/covered-oracle.js";
import type { Meeting, Selection } from "../../src/reminders/meeting.js";
import { PeopleReader } from "../../src/reminders/people.js";
import { closeTestPrisma, deleteGrants, testPrisma, uniqueId } from "../support/db.js";

// The one read a run makes about its meetings' people (suppressions and colleagues' grants),
// shared by concurrent runs: each run gets exactly what the two separate reads would give it.
describe("PeopleReader", () => {
  let db: Db;
  const grants: string[] = [];
  const tag = uniqueId("pf")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
  const address = (who: string) => `${who}.${tag}@example.com`;
  const grant = async (id: string, email: string, over: { enabled?: boolean; policy?: "all" } = {}) => {
    grants.push(id);
    await db.grant.create({ data: { id, email, provider: "google", timeZone: "UTC", ...over } });
    return { id, email };
  };
  const meeting = (organizer: string, people: string[], over: Partial<Meeting> = {}): Meeting => ({
    eventId: uniqueId("ev"),
    start: 1_800_000_000,
    end: 1_800_001_800,
    title: "Sync",
    organizer: { email: organizer },
    recipients: people.map((email) => ({ email })),
    recurring: false,
    icalUid: `${uniqueId("uid")}@example.com`,
    userIsOrganizer: false,
    ...over,
  });
  const selection = (...meetings: Meeting[]): Selection => ({ meetings, skipped: {}, problems: [] });

  beforeAll(async () => {
    db = await testPrisma();
  });
  afterAll(async () => {
    await db.$executeRawUnsafe("DELETE FROM suppressions WHERE recipient LIKE $1", `%.${tag}@example.com`);
    await deleteGrants(db, grants);
    await closeTestPrisma();
  });

  it("answers concurrent runs together (shared statements), each with its own suppressions and colleagues", async () => {
    const ann = await grant(`ann-${tag}`, address("ann"));
    const org = await grant(`org-${tag}`, address("org").toUpperCase(), { policy: "all" });
    await grant(`off-${tag}`, address("off"), { enabled: false });
    await suppress(db, address("bob"), address("ann")); // from ann only
    await suppress(db, address("cy"), ""); // from everyone
    await suppress(db, address("dan"), address("org")); // from org only
    await suppress(db, address("eve"), address("ann"));
    await undo(db, address("eve"), address("ann")); // lifted
    const people = [address("bob"), address("cy"), address("dan"), address("eve"), address("off")];
    const annSel = selection(meeting(address("org"), [address("bob").toUpperCase(), ...people.slice(1)]));
    const orgSel = selection(meeting(address("org"), people), meeting(address("zed"), [address("ann")]));
    const noUid = selection(meeting(address("zed"), [address("bob")], { icalUid: undefined }));
    const nobody = selection(meeting(address("zed"), []));

    const reader = new PeopleReader(db);
    const [a, o, n, none] = await Promise.all([
      reader.read(ann, annSel),
      reader.read(org, orgSel),
      reader.read(ann, noUid),
      reader.read(ann, nobody),
    ]);

    expect(a.suppressed).toEqual(new Set([address("bob"), address("cy")]));
    expect(o.suppressed).toEqual(new Set([address("cy"), address("dan")]));
    expect(n.suppressed).toEqual(new Set([address("bob")]));
    expect(none).toEqual({ suppressed: new Set(), grants: [] });
    // The disabled grant is no colleague; a run's own row comes once; no peers without a UID.
    expect(a.grants.map((g) => g.id).sort()).toEqual([ann.id, org.id].sort());
    expect(o.grants.map((g) => g.id).sort()).toEqual([ann.id, org.id].sort());
    expect(n.grants).toEqual([]);
    expect(o.grants.find((g) => g.id === org.id)?.policy).toBe("all");

    // The same answers as the separate reads.
    for (const [g, sel, facts] of [
      [ann, annSel, a],
      [org, orgSel, o],
      [ann, noUid, n],
    ] as const) {
      const recipients = sel.meetings.flatMap((m) => m.recipients.map((r) => r.email));
      expect(facts.suppressed).toEqual(await listSuppressedFor(db, g.email, recipients));
      expect(withoutCoveredBy(facts.grants, g, sel)).toEqual(await withoutCoveredMeetings(db, g, sel));
    }
    // The organiser's grant reminds the meeting ann is in: covered for ann.
    expect(withoutCoveredBy(a.grants, ann, annSel).skipped).toEqual({ covered_by_other_grant: 1 });
  });
});
