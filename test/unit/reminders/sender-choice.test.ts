import { describe, expect, it } from "vitest";
import type { Meeting } from "../../../src/reminders/meeting.js";
import { chooseSender, type PeerGrant } from "../../../src/reminders/sender-choice.js";

const ORG = "org@example.com";

/** A meeting organised by ORG with ann, bob and cat (as seen by the grant whose address is `user`). */
function meeting(user: string, over: Partial<Meeting> = {}): Meeting {
  const people = [ORG, "ann@example.com", "bob@example.com", "cat@example.com"].filter((e) => e !== user);
  return {
    eventId: `ev-${user}`,
    start: 1_800_000_000,
    end: 1_800_003_600,
    title: "Plan",
    organizer: { email: ORG },
    recipients: people.map((email) => ({ email })),
    recurring: false,
    icalUid: "uid-1@example.com",
    userIsOrganizer: user === ORG,
    ...over,
  };
}

const g = (id: string, email: string, policy: PeerGrant["policy"] = "organized"): PeerGrant => ({ id, email, policy });
const org = g("g-org", ORG);
const ann = g("g-ann", "ann@example.com", "all");
const bob = g("g-bob", "bob@example.com", "all");
const outsider = g("g-zed", "zed@example.com", "all");

describe("chooseSender", () => {
  it("sends when no other grant is connected", () => {
    expect(chooseSender(meeting("ann@example.com"), ann, [])).toEqual({ send: true });
  });

  it("never covers a meeting without an iCalendar UID", () => {
    expect(chooseSender(meeting("ann@example.com", { icalUid: undefined }), ann, [org, bob])).toEqual({ send: true });
  });

  it("ignores grants not among the meeting's people", () => {
    expect(chooseSender(meeting("ann@example.com"), ann, [outsider])).toEqual({ send: true });
  });

  it("the organiser's grant sends; an attendee's grant is covered by it", () => {
    expect(chooseSender(meeting(ORG), org, [ann, bob])).toEqual({ send: true });
    expect(chooseSender(meeting("ann@example.com"), ann, [org, bob])).toEqual({ send: false, coveredBy: "g-org" });
    expect(chooseSender(meeting("bob@example.com"), bob, [org, ann])).toEqual({ send: false, coveredBy: "g-org" });
  });

  it("the organiser's grant wins over a smaller id", () => {
    const a0 = g("a0", "ann@example.com", "all");
    expect(chooseSender(meeting(ORG), org, [a0])).toEqual({ send: true });
    expect(chooseSender(meeting("ann@example.com"), a0, [org])).toEqual({ send: false, coveredBy: "g-org" });
  });

  it("matches addresses whatever their case", () => {
    const upper = g("g-org", "ORG@Example.com");
    expect(chooseSender(meeting("ann@example.com"), ann, [upper])).toEqual({ send: false, coveredBy: "g-org" });
    const m = meeting("ann@example.com", { recipients: [{ email: "BOB@EXAMPLE.COM" }], organizer: undefined });
    const bob0 = g("a0", "bob@example.com", "all");
    expect(chooseSender({ ...m, userIsOrganizer: true }, ann, [bob0])).toEqual({ send: false, coveredBy: "a0" });
  });

  it("an organiser's grant under `external` counts as organising (select.ts judges the guests)", () => {
    const ext = g("g-org", ORG, "external");
    expect(chooseSender(meeting("ann@example.com"), ann, [ext])).toEqual({ send: false, coveredBy: "g-org" });
  });

  it("without the organiser's grant, the candidate with the smallest id sends", () => {
    // ann (g-ann) < bob (g-bob): the same answer from both runs.
    expect(chooseSender(meeting("ann@example.com"), ann, [bob])).toEqual({ send: true });
    expect(chooseSender(meeting("bob@example.com"), bob, [ann])).toEqual({ send: false, coveredBy: "g-ann" });
  });

  it("an attendee's `organized` grant is no candidate: it never covers anyone", () => {
    const annOrganized = g("a0", "ann@example.com", "organized");
    expect(chooseSender(meeting("bob@example.com"), bob, [annOrganized])).toEqual({ send: true });
  });

  it("a grant that would not remind the meeting itself is covered by any candidate", () => {
    // bob's policy is `organized` and he does not organise it: ann (`all`) has it.
    const bobOrganized = g("a0", "bob@example.com", "organized");
    expect(chooseSender(meeting("bob@example.com"), bobOrganized, [ann])).toEqual({
      send: false,
      coveredBy: "g-ann",
    });
  });

  it("the organiser's grant under `organized` still sends when an attendee's is `organized` too", () => {
    const annOrganized = g("a0", "ann@example.com", "organized");
    expect(chooseSender(meeting(ORG), org, [annOrganized])).toEqual({ send: true });
  });

  it("without an organiser every grant in it counts as organising: the smallest id sends", () => {
    const noOrg = (user: string) => ({ ...meeting(user, { organizer: undefined }), userIsOrganizer: true });
    const annOrganized = g("g-ann", "ann@example.com", "organized");
    const bobOrganized = g("g-bob", "bob@example.com", "organized");
    expect(chooseSender(noOrg("ann@example.com"), annOrganized, [bobOrganized])).toEqual({ send: true });
    expect(chooseSender(noOrg("bob@example.com"), bobOrganized, [annOrganized])).toEqual({
      send: false,
      coveredBy: "g-ann",
    });
  });

  it("two grants of the organiser's address: the smaller id sends", () => {
    const org2 = g("g-org2", ORG);
    expect(chooseSender(meeting(ORG), org, [org2])).toEqual({ send: true });
    expect(chooseSender(meeting(ORG), org2, [org])).toEqual({ send: false, coveredBy: "g-org" });
  });

  it("leaves this grant itself out of the others", () => {
    expect(chooseSender(meeting("ann@example.com"), ann, [ann])).toEqual({ send: true });
  });
});
