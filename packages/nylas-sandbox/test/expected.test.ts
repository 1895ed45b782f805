import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedDecisions, expectedReminders, SandboxStore, startSandbox, type Sandbox } from "../src/index.js";

// Hand-built grants and events: each expectation below follows from how the event is made.
const NOW = Date.parse("2026-03-07T20:00:00Z");
const at = (iso: string) => Date.parse(iso) / 1000;
const span = (iso: string, minutes = 30) => ({ start_time: at(iso), end_time: at(iso) + minutes * 60 });

function world() {
  const s = new SandboxStore(() => NOW);
  const ann = s.addGrant({ id: "g-ann", email: "ann@acme.test", timezone: "UTC" }).grant.id;
  const bob = s.addGrant({ id: "g-bob", email: "bob@acme.test", timezone: "UTC" }).grant.id;
  // Tomorrow (8 Mar, UTC) at 10:00, Ann organises it for Bob and two outsiders.
  const guests = ["cy@globex.test", "dee@initech.test"];
  s.addEvent(ann, {
    title: "Quarterly",
    when: span("2026-03-08T10:00:00Z"),
    participants: [{ email: "ann@acme.test", status: "yes" }, ...guests.map((email) => ({ email, status: "yes" }))],
    expected: { remind: true, recipients: guests },
  });
  // Tonight, 10 minutes and 20 minutes from now: "started" for a 15-minute lead.
  s.addEvent(ann, {
    title: "Soon",
    when: span("2026-03-07T20:10:00Z"),
    participants: [{ email: "cy@globex.test", status: "yes" }],
    expected: { remind: true, recipients: ["cy@globex.test"] },
  });
  s.addEvent(ann, {
    title: "Later",
    when: span("2026-03-07T20:20:00Z"),
    participants: [{ email: "cy@globex.test", status: "yes" }],
    expected: { remind: true, recipients: ["cy@globex.test"] },
  });
  return { s, ann, bob, guests };
}

describe("expected decisions under the settings", () => {
  it("removes suppressed recipients (of every sender or of one), and none left is opted_out", () => {
    const { s, ann, guests } = world();
    const q = (suppressed: { recipient: string; sender?: string }[]) =>
      expectedDecisions(s, { now: NOW, grantIds: [ann], suppressed }).find((d) => d.title === "Quarterly")!;
    expect(q([]).recipients).toEqual(guests);
    expect(q([{ recipient: "CY@globex.test" }]).recipients).toEqual(["dee@initech.test"]);
    // Opted out of another sender's reminders only: still reminded by Ann.
    expect(q([{ recipient: "cy@globex.test", sender: "someone@else.test" }]).recipients).toEqual(guests);
    expect(q([{ recipient: "cy@globex.test", sender: "Ann@acme.test" }]).recipients).toEqual(["dee@initech.test"]);
    const none = q(guests.map((recipient) => ({ recipient })));
    expect([none.remind, none.reason, none.recipients]).toEqual([false, "opted_out", []]);
  });

  it("counts recipients against maxRecipients before opt-outs", () => {
    const { s, ann } = world();
    const q = (o: object) =>
      expectedDecisions(s, { now: NOW, grantIds: [ann], ...o }).find((d) => d.title === "Quarterly")!;
    expect(q({ maxRecipients: 1 }).reason).toBe("too_many_recipients");
    expect(q({ maxRecipients: 1, suppressed: [{ recipient: "cy@globex.test" }] }).reason).toBe("too_many_recipients");
    expect(q({ maxRecipients: 2 }).remind).toBe(true);
  });

  it("skips meetings starting less than minLeadMinutes after now as started; 0 turns it off", () => {
    const { s, ann } = world();
    const today = (o: object) =>
      expectedDecisions(s, { now: NOW, grantIds: [ann], day: "2026-03-07", ...o }).map((d) => [d.title, d.reason]);
    expect(today({})).toEqual([
      ["Soon", "started"],
      ["Later", undefined],
    ]);
    expect(today({ minLeadMinutes: 30 })).toEqual([
      ["Soon", "started"],
      ["Later", "started"],
    ]);
    expect(today({ minLeadMinutes: 0 })).toEqual([
      ["Soon", undefined],
      ["Later", undefined],
    ]);
    // A day named without `now` is judged as the night before it.
    expect(expectedDecisions(s, { grantIds: [ann], day: "2026-03-07" }).map((d) => d.reason)).toEqual([
      undefined,
      undefined,
    ]);
    // An opt-out comes first.
    const both = { minLeadMinutes: 30, suppressed: [{ recipient: "cy@globex.test" }] };
    expect(today(both).map(([, r]) => r)).toEqual(["opted_out", "opted_out"]);
  });

  it("reads the facts off hand-made annotations: internal_only, not_organizer, private", () => {
    const { s, ann, bob } = world();
    s.addEvent(ann, {
      title: "Internal",
      when: span("2026-03-08T11:00:00Z"),
      participants: [{ email: "bob@acme.test", status: "yes" }],
      expected: { remind: true, recipients: ["bob@acme.test"] },
    });
    s.addEvent(bob, {
      title: "Attending",
      when: span("2026-03-08T12:00:00Z"),
      organizer: { email: "cy@globex.test" },
      participants: [{ email: "cy@globex.test", status: "yes" }],
      expected: { remind: true, recipients: ["cy@globex.test"] },
    });
    s.addEvent(bob, {
      title: "Secret",
      when: span("2026-03-08T13:00:00Z"),
      visibility: "private",
      participants: [{ email: "cy@globex.test", status: "yes" }],
      expected: { remind: true, recipients: ["cy@globex.test"], private: true },
    });
    const reasons = (o: object) =>
      Object.fromEntries(expectedDecisions(s, { now: NOW, ...o }).map((d) => [d.title, d.reason ?? "remind"]));
    expect(reasons({ defaultPolicy: "external" })).toEqual({
      Quarterly: "remind",
      Internal: "internal_only",
      Attending: "not_organizer",
      Secret: "private",
    });
    expect(reasons({ policy: { [bob]: "all" } })).toMatchObject({ Internal: "remind", Attending: "remind" });
  });

  it("has one grant remind a meeting several hold: the organiser's, else the smallest grant id", () => {
    const { s, ann, bob } = world();
    const carl = s.addGrant({ id: "g-carl", email: "carl@acme.test", timezone: "UTC" }).grant.id;
    const meeting = {
      title: "Shared",
      when: span("2026-03-08T15:00:00Z"),
      ical_uid: "shared-1@acme.test",
      organizer: { email: "ann@acme.test" },
      participants: ["ann", "bob", "carl"].map((n) => ({ email: `${n}@acme.test`, status: "yes" })),
    };
    const others = (me: string) => ["ann", "bob", "carl"].filter((n) => n !== me).map((n) => `${n}@acme.test`);
    for (const [id, me] of [
      [ann, "ann"],
      [bob, "bob"],
      [carl, "carl"],
    ] as const)
      s.addEvent(id, { ...meeting, expected: { remind: true, recipients: others(me) } });
    const shared = (o: object) =>
      expectedDecisions(s, { now: NOW, ...o })
        .filter((d) => d.title === "Shared")
        .map((d) => [d.grantId, d.reason ?? "remind"]);
    expect(shared({})).toEqual([
      [ann, "remind"],
      [bob, "not_organizer"],
      [carl, "not_organizer"],
    ]);
    expect(shared({ defaultPolicy: "all" })).toEqual([
      [ann, "remind"],
      [bob, "covered_by_other_grant"],
      [carl, "covered_by_other_grant"],
    ]);
    // The organiser's grant does not remind it (internal, under external): the smallest id does.
    expect(shared({ defaultPolicy: "all", policy: { [ann]: "external" } })).toEqual([
      [ann, "internal_only"],
      [bob, "remind"],
      [carl, "covered_by_other_grant"],
    ]);
    // The organiser's grant needs re-authentication: not connected.
    s.setGrantStatus(ann, "invalid");
    expect(shared({ policy: { [carl]: "all" } })).toEqual([
      [bob, "not_organizer"],
      [carl, "remind"],
    ]);
    // Asked about one grant, the others still count.
    expect(shared({ defaultPolicy: "all", grantIds: [carl] })).toEqual([[carl, "covered_by_other_grant"]]);
    expect(expectedReminders(s, { now: NOW, defaultPolicy: "all" }).find((r) => r.title === "Shared")).toMatchObject({
      grantId: bob,
      icalUid: "shared-1@acme.test",
      recipients: ["ann@acme.test", "carl@acme.test"],
    });
  });
});

describe("GET /_sandbox/expected with the settings", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ seed: { grants: 3, seed: 1, now: NOW } });
  });
  afterAll(async () => {
    await sb.close();
  });

  const get = async (query: string) => {
    const res = await fetch(`${sb.url}/_sandbox/expected?now=${new Date(NOW).toISOString()}&all=true&${query}`);
    return { status: res.status, body: (await res.json()) as { data?: unknown[]; error?: { message: string } } };
  };

  it("takes the policy as JSON or as grantId:policy, and the other settings, as the in-process call does", async () => {
    const [a, b] = sb.grantIds() as [string, string];
    const opts = {
      now: NOW,
      policy: { [a]: "all", [b]: "external" } as const,
      maxRecipients: 40,
      minLeadMinutes: 20 * 60,
      suppressed: [{ recipient: "attendee0.g0@bigco.test" }, { recipient: "x@y.test", sender: "z@w.test" }],
    };
    const want = sb.expectedDecisions(opts);
    const common =
      "max_recipients=40&min_lead_minutes=1200&suppressed=attendee0.g0@bigco.test&suppressed=x@y.test:z@w.test";
    const byPairs = await get(`policy=${a}:all&policy=${b}:external&${common}`);
    expect(byPairs.status).toBe(200);
    expect(byPairs.body.data).toEqual(JSON.parse(JSON.stringify(want)));
    const json = encodeURIComponent(JSON.stringify({ [a]: "all", [b]: "external" }));
    const sup = encodeURIComponent(JSON.stringify(opts.suppressed));
    const byJson = await get(`policy=${json}&max_recipients=40&min_lead_minutes=1200&suppressed=${sup}`);
    expect(byJson.body.data).toEqual(byPairs.body.data);
    // The settings change the answer (so the comparison above means something).
    expect(want).not.toEqual(sb.expectedDecisions({ now: NOW }));
    const everyone = await get("default_policy=all&include_invalid=true");
    expect(everyone.body.data).toEqual(
      JSON.parse(JSON.stringify(sb.expectedDecisions({ now: NOW, defaultPolicy: "all", includeInvalid: true }))),
    );
  });

  it("answers 400 with the parameter's name for a bad value", async () => {
    for (const [query, message] of [
      ["policy=g1:sometimes", "policy of g1 must be one of organized, all, external"],
      ["policy=nocolon", "policy must be <grantId>:<policy> or a JSON object"],
      ["policy={oops", "policy is not valid JSON"],
      ["default_policy=none", "default_policy must be one of organized, all, external"],
      ["max_recipients=0", "max_recipients must be an integer between 1 and 100000"],
      ["min_lead_minutes=-1", "min_lead_minutes must be an integer between 0 and 100000"],
      ["suppressed=not-an-email", "suppressed.recipient must be an email address"],
      ["suppressed=a@b.test:c@d.test:e", "suppressed must be <recipient> or <recipient>:<sender>"],
      ["include_invalid=maybe", "include_invalid must be true or false"],
    ]) {
      const r = await get(query!);
      expect(r.status, query).toBe(400);
      expect(r.body.error?.message, query).toBe(message);
    }
  });
});
