import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, GrantStatus } from "../../src/db/client.js";
import type { ReminderPolicy } from "../../src/db/generated/enums.js";
import { withoutCoveredMeetings } from "../support/covered-oracle.js";
import type { Meeting, Selection } from "../../src/reminders/meeting.js";
import { closeTestPrisma, deleteGrants, testPrisma, uniqueId } from "../support/db.js";

// The adapter of the sender choice against Postgres: which grants count as connected, whose
// policy applies, and what the run's selection becomes.
describe("withoutCoveredMeetings", () => {
  let db: Db;
  const grants: string[] = [];
  const tag = uniqueId("cv")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
  const address = (who: string) => `${who}.${tag}@example.com`;

  const grant = async (
    id: string,
    email: string,
    over: { policy?: ReminderPolicy; status?: GrantStatus; enabled?: boolean; provider?: string } = {},
  ) => {
    grants.push(id);
    await db.grant.create({
      data: { id, email, provider: over.provider ?? "google", timeZone: "UTC", ...over },
    });
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
  const selection = (...meetings: Meeting[]): Selection => ({ meetings, skipped: { all_day: 2 }, problems: [] });

  beforeAll(async () => {
    db = await testPrisma();
  });
  afterAll(async () => {
    await deleteGrants(db, grants);
    await closeTestPrisma();
  });

  it("drops the meetings the organiser's connected grant reminds and counts them", async () => {
    const org = await grant(`org-${tag}`, address("org").toUpperCase());
    const ann = await grant(`ann-${tag}`, address("ann"), { policy: "all" });
    const covered = meeting(address("org"), [address("bob")]);
    const alone = meeting(address("zed"), [address("bob")]);
    const noUid = meeting(address("org"), [address("bob")], { icalUid: undefined });

    const out = await withoutCoveredMeetings(db, ann, selection(covered, alone, noUid));
    expect(out.meetings).toEqual([alone, noUid]);
    expect(out.skipped).toEqual({ all_day: 2, covered_by_other_grant: 1 });
    // The organiser's own run keeps it.
    const own = { ...covered, userIsOrganizer: true, recipients: [{ email: address("ann") }] };
    expect((await withoutCoveredMeetings(db, org, selection(own))).meetings).toEqual([own]);
  });

  it("only grants that can run count: not disabled, not needs_reauth, not without calendars", async () => {
    const me = await grant(`me-${tag}`, address("me"), { policy: "all" });
    await grant(`a1-${tag}`, address("off"), { policy: "all", enabled: false });
    await grant(`a2-${tag}`, address("reauth"), { policy: "all", status: "needs_reauth" });
    await grant(`a3-${tag}`, address("imap"), { policy: "all", provider: "imap" });
    const m = meeting(address("outside"), [address("off"), address("reauth"), address("imap")]);
    const out = await withoutCoveredMeetings(db, me, selection(m));
    expect(out.meetings).toEqual([m]);
    expect(out.skipped).toEqual({ all_day: 2 });
  });

  it("a grant without a policy has the deployment's", async () => {
    const me = await grant(`x-${tag}`, address("x"), { policy: "all" });
    await grant(`b-${tag}`, address("b"));
    const m = meeting(address("outside"), [address("b")]);
    // Under `organized`, b (an attendee) would not remind it; under `all` b has the smaller id.
    expect((await withoutCoveredMeetings(db, me, selection(m))).meetings).toEqual([m]);
    expect((await withoutCoveredMeetings(db, me, selection(m), "organized")).meetings).toEqual([m]);
    expect((await withoutCoveredMeetings(db, me, selection(m), "all")).skipped).toEqual({
      all_day: 2,
      covered_by_other_grant: 1,
    });
  });
});
