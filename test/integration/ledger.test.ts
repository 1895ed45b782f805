import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closePrisma, createPrisma, type Db } from "../../src/db/client.js";
import { Ledger, type ClaimInput } from "../../src/reminders/ledger.js";
import { deleteGrants, newTestPrisma, testPrisma, uniqueId } from "../support/db.js";

describe("reminders ledger (real Postgres)", () => {
  let db: Db;
  const grantId = uniqueId("g");
  let n = 0;
  const input = (over: Partial<ClaimInput> = {}): ClaimInput => ({
    grantId,
    eventId: `ev-${++n}`,
    eventStart: 1_795_500_000,
    day: "2026-11-24",
    title: "Standup",
    recipients: [{ email: "a@example.com" }],
    audience: "",
    ...over,
  });

  beforeAll(async () => {
    db = await testPrisma();
    await db.grant.create({ data: { id: grantId, email: "u@example.com", provider: "google", timeZone: "UTC" } });
  });
  afterAll(async () => {
    await deleteGrants(db, [grantId]);
  });

  it("claims a new reminder once; a second claim within the lease is busy", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    const first = await ledger.claim(i);
    expect(first).toMatchObject({ outcome: "claimed", attempts: 1, uncertain: false });
    const second = await ledger.claim(i);
    expect(second.outcome).toBe("busy");
    if (second.outcome === "busy") expect(second.retryInMs).toBeGreaterThan(50_000);
  });

  it("never claims a sent reminder again", async () => {
    const ledger = new Ledger(db, { leaseMs: 0, maxAttempts: 3 });
    const i = input();
    const c = await ledger.claim(i);
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markSent(c.id, "msg-1");
    expect(await ledger.claim(i)).toEqual({ outcome: "done", status: "sent" });
    const row = await db.reminder.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "sent", messageId: "msg-1", attempts: 1 });
    expect(row.sentAt).not.toBeNull();
  });

  it("lets another attempt take over an expired claim, flagged uncertain, same marker", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    const first = await ledger.claim(i);
    if (first.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.release(first.id, "transient 503");
    const again = await ledger.claim(i);
    // A takeover after an unknown outcome is not a refusal: it does not use up an attempt.
    expect(again).toMatchObject({ outcome: "claimed", attempts: 1, uncertain: true, marker: first.marker });
  });

  it("does not exhaust a reminder through takeovers after unknown outcomes (chaos: storms)", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    let c = await ledger.claim(i);
    for (let n = 0; n < 5; n++) {
      if (c.outcome !== "claimed") throw new Error("expected a claim");
      await ledger.release(c.id, "transient 503");
      c = await ledger.claim(i);
    }
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markFailed(c.id, "429", { countAttempt: false });
    expect(await ledger.claim(i)).toMatchObject({ outcome: "claimed", uncertain: false });
  });

  it("reclaims a refused send without the uncertainty flag, until attempts run out", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 2 });
    const i = input();
    const a = await ledger.claim(i);
    if (a.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markFailed(a.id, "permanent 400");
    const b = await ledger.claim(i);
    expect(b).toMatchObject({ outcome: "claimed", attempts: 2, uncertain: false });
    if (b.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markFailed(b.id, "permanent 400");
    expect(await ledger.claim(i)).toEqual({ outcome: "exhausted", attempts: 2 });
  });

  it("does not count refusals that are not the reminder's fault", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 1 });
    const i = input();
    for (let k = 0; k < 5; k++) {
      const c = await ledger.claim(i);
      expect(c.outcome).toBe("claimed");
      if (c.outcome === "claimed") await ledger.markFailed(c.id, "rate_limited 429", { countAttempt: false });
    }
  });

  it("treats a moved meeting (new start) as a new reminder", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    const a = await ledger.claim(i);
    const b = await ledger.claim({ ...i, eventStart: i.eventStart + 3600 });
    expect(a.outcome).toBe("claimed");
    expect(b.outcome).toBe("claimed");
    if (a.outcome === "claimed" && b.outcome === "claimed") expect(a.marker).not.toBe(b.marker);
  });

  it("lets exactly one of many concurrent claimers win", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    const results = await Promise.all(Array.from({ length: 12 }, () => ledger.claim(i)));
    expect(results.filter((r) => r.outcome === "claimed")).toHaveLength(1);
    expect(results.filter((r) => r.outcome === "busy")).toHaveLength(11);
  });

  it("two workers (own clients and pools) claiming the same batches at once claim each reminder once", async () => {
    const [dbA, dbB] = await Promise.all([newTestPrisma(), newTestPrisma()]);
    try {
      const a = new Ledger(dbA, { leaseMs: 60_000, maxAttempts: 3 });
      const b = new Ledger(dbB, { leaseMs: 60_000, maxAttempts: 3 });
      const batch = Array.from({ length: 30 }, () => input());
      // Each worker claims the batch in overlapping slices, several callers at a time.
      const slices = (l: Ledger) => [0, 10, 20].map((from) => l.claimMany(batch.slice(from, from + 15)));
      const results = (await Promise.all([...slices(a), ...slices(b)])).flat();
      const claimed = results.filter((r) => r.outcome === "claimed");
      expect(claimed).toHaveLength(batch.length);
      expect(new Set(claimed.map((c) => (c.outcome === "claimed" ? c.id : 0n))).size).toBe(batch.length);
      expect(results.filter((r) => r.outcome !== "claimed" && r.outcome !== "busy")).toEqual([]);
    } finally {
      await Promise.all([closePrisma(dbA), closePrisma(dbB)]);
    }
  });

  it("claims a job's reminders in one statement with each row's own outcome, in order", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 1 });
    const [sent, refused, held, released] = [input(), input(), input(), input()];
    const setup = await ledger.claimMany([sent, refused, held, released]);
    const ids = setup.map((c) => (c.outcome === "claimed" ? c : undefined));
    expect(ids.every(Boolean)).toBe(true);
    await ledger.markSent(ids[0]!.id, "m-sent");
    await ledger.markFailed(ids[1]!.id, "permanent 400");
    await ledger.release(ids[3]!.id, "transient 503");

    const fresh = input();
    const got = await ledger.claimMany([fresh, sent, refused, held, released, fresh]);
    expect(got[0]).toMatchObject({ outcome: "claimed", attempts: 1, uncertain: false });
    expect(got[1]).toEqual({ outcome: "done", status: "sent" });
    expect(got[2]).toEqual({ outcome: "exhausted", attempts: 1 });
    expect(got[3]!.outcome).toBe("busy");
    if (got[3]!.outcome === "busy") expect(got[3]!.retryInMs).toBeGreaterThan(50_000);
    expect(got[4]).toMatchObject({ outcome: "claimed", uncertain: true, marker: ids[3]!.marker });
    // Listed twice: claimed once, the copy waits.
    expect(got[5]!.outcome).toBe("busy");
    const markers = got.flatMap((c) => (c.outcome === "claimed" ? [c.marker] : []));
    expect(new Set(markers).size).toBe(markers.length);
    expect(await ledger.claimMany([])).toEqual([]);
  });

  it("stores what it was given, and a lone surrogate as U+FFFD instead of failing the batch", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const odd = input({
      title: "Plan\ud800ning",
      recipients: [{ name: "Al\udc00ice \ud83d\ude00", email: "alice@example.com" }, { email: "b@example.com" }],
      eventStart: 1_795_500_123,
    });
    const plain = input({ title: "Q&A \"review\" \\ 'n' \u00e9", audience: "b@example.com" });
    const composedAt = new Date("2026-11-23T18:00:00.123Z");
    const got = await ledger.claimMany([odd, plain], { composedAt });
    expect(got.map((c) => c.outcome)).toEqual(["claimed", "claimed"]);
    const rows = await db.reminder.findMany({
      where: { grantId, eventId: { in: [odd.eventId, plain.eventId] } },
      orderBy: { id: "asc" },
    });
    expect(
      rows.map((r) => [r.title, r.recipients, r.eventStart.getTime(), r.composedAt?.getTime(), r.audience]),
    ).toEqual([
      [
        "Plan\ufffdning",
        [{ name: "Al\ufffdice \ud83d\ude00", email: "alice@example.com" }, { email: "b@example.com" }],
        1_795_500_123_000,
        composedAt.getTime(),
        "",
      ],
      [plain.title, plain.recipients, plain.eventStart * 1000, composedAt.getTime(), "b@example.com"],
    ]);
  });

  it("drops a NUL Postgres cannot store instead of failing the batch", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const odd = input({ title: "Q3\u0000 review", recipients: [{ name: "N\u0000", email: "n@example.com" }] });
    expect((await ledger.claimMany([odd, input()])).map((c) => c.outcome)).toEqual(["claimed", "claimed"]);
    const row = await db.reminder.findFirstOrThrow({ where: { grantId, eventId: odd.eventId } });
    expect([row.title, row.recipients]).toEqual(["Q3 review", [{ name: "N", email: "n@example.com" }]]);
  });

  it("hands back unsent claims: plain ones cost no attempt, uncertain ones stay uncertain", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 1 });
    const [plain, taken] = [input(), input()];
    const first = await ledger.claimMany([plain, taken]);
    if (first[1]!.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.release(first[1]!.id, "timeout");
    const second = await ledger.claimMany([plain, taken]);
    expect(second[0]!.outcome).toBe("busy");
    expect(second[1]).toMatchObject({ outcome: "claimed", uncertain: true });
    const claims = [first[0]!, second[1]!].flatMap((c) => (c.outcome === "claimed" ? [c] : []));
    await ledger.unclaim(claims, "not sent: job stopped");
    const again = await ledger.claimMany([plain, taken]);
    // maxAttempts is 1: the handed-back plain claim is claimable again, not exhausted.
    expect(again[0]).toMatchObject({ outcome: "claimed", attempts: 1, uncertain: false });
    expect(again[1]).toMatchObject({
      outcome: "claimed",
      uncertain: true,
      marker: first[1]!.outcome === "claimed" ? first[1]!.marker : "",
    });
  });

  it("writes concurrent marks together, each caller waiting for its own row", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const claims = (await ledger.claimMany(Array.from({ length: 40 }, () => input()))).flatMap((c) =>
      c.outcome === "claimed" ? [c] : [],
    );
    expect(claims).toHaveLength(40);
    const written: bigint[] = [];
    await Promise.all(claims.map((c, i) => ledger.markSent(c.id, `batch-${i}`).then(() => written.push(c.id))));
    expect(written).toHaveLength(40);
    const rows = await db.reminder.findMany({ where: { id: { in: claims.map((c) => c.id) } } });
    expect(rows.every((r) => r.status === "sent" && r.sentAt !== null)).toBe(true);
    expect(new Map(rows.map((r) => [r.id, r.messageId]))).toEqual(new Map(claims.map((c, i) => [c.id, `batch-${i}`])));
    // A failed write fails every mark of its batch (they are retried as uncertain sends).
    const deadDb = await createPrisma("postgresql://postgres@127.0.0.1:1/nothing");
    const broken = new Ledger(deadDb, { leaseMs: 60_000, maxAttempts: 3 });
    const outcomes = await Promise.allSettled([
      broken.markSent(claims[0]!.id, "x"),
      broken.markSent(claims[1]!.id, "y"),
      broken.markSent(claims[2]!.id, "z"),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    await closePrisma(deadDb).catch(() => {});
  });

  it("keeps the wording instant of an attempt that may have sent, and takes a new one after a refusal", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const [at1, at2, at3] = ["2026-11-23T22:50:00Z", "2026-11-23T23:10:00Z", "2026-11-24T08:00:00Z"].map(
      (t) => new Date(t),
    );
    const i = input();
    const first = await ledger.claim(i, { composedAt: at1 });
    if (first.outcome !== "claimed") throw new Error("expected a claim");
    expect(first.composedAt).toEqual(at1);
    // The send's outcome is unknown: the retry words the message as the first attempt did.
    await ledger.release(first.id, "transient timeout");
    const retry = await ledger.claim(i, { composedAt: at2 });
    expect(retry).toMatchObject({ outcome: "claimed", uncertain: true, marker: first.marker, composedAt: at1 });
    // Refused (nothing went out): the next claim is worded for its own instant.
    await ledger.markFailed(first.id, "rate_limited 429", { countAttempt: false });
    expect(await ledger.claim(i, { composedAt: at3 })).toMatchObject({ outcome: "claimed", composedAt: at3 });
    const row = await db.reminder.findUniqueOrThrow({ where: { id: first.id } });
    expect(row.composedAt).toEqual(at3);
    // A claim without an instant leaves the column empty (the sender's clock is used).
    const bare = await ledger.claim(input());
    expect(bare.outcome === "claimed" && bare.composedAt).toBe(undefined);
  });

  it("a final refusal (the idempotency key came with another payload) is never claimed again", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const i = input();
    const c = await ledger.claim(i);
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markFailed(c.id, "permanent 409 api.invalid_idempotent_request", { final: true });
    expect(await ledger.claim(i)).toEqual({ outcome: "exhausted", attempts: 3 });
    const row = await db.reminder.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "failed", lastError: "permanent 409 api.invalid_idempotent_request" });
  });

  it("an uncertain reminder (may have gone out, cannot be checked) is never claimed again, even after its lease", async () => {
    const ledger = new Ledger(db, { leaseMs: 0, maxAttempts: 3 });
    const i = input();
    const c = await ledger.claim(i);
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markUncertain(c.id, "uncertain: key expired");
    expect(await ledger.claim(i)).toEqual({ outcome: "done", status: "uncertain" });
    expect(await ledger.claimMany([i])).toEqual([{ outcome: "done", status: "uncertain" }]);
    const row = await db.reminder.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "uncertain", lastError: "uncertain: key expired", sentAt: null });
  });

  it("a claim closed as started (too late to send) is skipped and never claimed again, even after its lease", async () => {
    const ledger = new Ledger(db, { leaseMs: 0, maxAttempts: 3 });
    const i = input();
    const c = await ledger.claim(i);
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markStarted(c.id);
    expect(await ledger.claim(i)).toEqual({ outcome: "done", status: "skipped" });
    expect(await ledger.claimMany([i])).toEqual([{ outcome: "done", status: "skipped" }]);
    const row = await db.reminder.findUniqueOrThrow({ where: { id: c.id } });
    expect(row).toMatchObject({ status: "skipped", lastError: "started", sentAt: null, messageId: null });
  });

  it("closing as started changes only a row still claimed (a sent one stays sent)", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const c = await ledger.claim(input());
    if (c.outcome !== "claimed") throw new Error("expected a claim");
    await ledger.markSent(c.id, "msg-s");
    await ledger.markStarted(c.id);
    expect(await db.reminder.findUniqueOrThrow({ where: { id: c.id } })).toMatchObject({
      status: "sent",
      messageId: "msg-s",
      lastError: null,
    });
  });

  describe("one row per message (audience)", () => {
    const audiences = ["", "amy@example.com", "bob@example.com"];

    it("keeps each message of one event a row of its own, each claimed once", async () => {
      const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
      const eventId = `ev-split-${++n}`;
      const inputs = audiences.map((audience) => input({ eventId, audience }));
      const first = await ledger.claimMany(inputs);
      expect(first.map((c) => c.outcome)).toEqual(["claimed", "claimed", "claimed"]);
      const claims = first.flatMap((c) => (c.outcome === "claimed" ? [c] : []));
      expect(new Set(claims.map((c) => c.id)).size).toBe(3);
      expect(new Set(claims.map((c) => c.marker)).size).toBe(3);

      // Claimed again at once (and concurrently): every message is held by its first claim.
      const again = await Promise.all([ledger.claimMany(inputs), ledger.claimMany([...inputs].reverse())]);
      expect(again.flat().map((c) => c.outcome)).toEqual(Array(6).fill("busy"));

      const rows = await db.reminder.findMany({ where: { grantId, eventId }, orderBy: { audience: "asc" } });
      expect(rows.map((r) => [r.audience, r.id, r.marker, r.status, r.attempts])).toEqual(
        claims.map((c, k) => [audiences[k], c.id, c.marker, "claimed", 1]),
      );
    });

    it("tells one event's messages apart in every state: sent, refused, new", async () => {
      const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
      const eventId = `ev-split-${++n}`;
      const [shared, amy, bob] = audiences.map((audience) => input({ eventId, audience }));
      const [a, b] = await ledger.claimMany([amy!, bob!]);
      if (a?.outcome !== "claimed" || b?.outcome !== "claimed") throw new Error("expected claims");
      await ledger.markSent(a.id, "msg-amy");
      await ledger.markFailed(b.id, "permanent 400");

      const got = await ledger.claimMany([amy!, bob!, shared!]);
      expect(got[0]).toEqual({ outcome: "done", status: "sent" });
      expect(got[1]).toMatchObject({ outcome: "claimed", id: b.id, marker: b.marker, attempts: 2, uncertain: false });
      expect(got[2]).toMatchObject({ outcome: "claimed", attempts: 1 });
      const rows = await db.reminder.findMany({ where: { grantId, eventId }, orderBy: { audience: "asc" } });
      expect(rows.map((r) => [r.audience, r.status, r.messageId])).toEqual([
        ["", "claimed", null],
        ["amy@example.com", "sent", "msg-amy"],
        ["bob@example.com", "claimed", null],
      ]);
    });

    it("lets exactly one concurrent claimer win each message", async () => {
      const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
      const eventId = `ev-split-${++n}`;
      const tries = audiences.flatMap((audience) => Array.from({ length: 4 }, () => input({ eventId, audience })));
      const got = await Promise.all(tries.map((i) => ledger.claim(i)));
      for (const audience of audiences) {
        const won = got.filter((c, k) => tries[k]!.audience === audience && c.outcome === "claimed");
        expect(won).toHaveLength(1);
      }
      expect(await db.reminder.count({ where: { grantId, eventId } })).toBe(3);
    });
  });

  it("leaves room on each page for the marks: a marked row stays where its claim put it", async () => {
    // A mark with no room on its row's page writes a new entry in each of the ledger's four
    // indexes; with the room the fillfactor leaves, it is a heap-only update.
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const recipients = ["Ada Lovelace", "Grace Hopper", "Katherine Johnson"].map((name) => ({
      name,
      email: `${name.split(" ")[0]!.toLowerCase()}@example.com`,
    }));
    const claims = (
      await ledger.claimMany(
        Array.from({ length: 60 }, () => input({ title: "Quarterly planning with the platform team", recipients })),
      )
    ).flatMap((c) => (c.outcome === "claimed" ? [c] : []));
    expect(claims).toHaveLength(60);
    const ids = claims.map((c) => c.id.toString());
    const pages = async () =>
      new Map(
        (
          await db.$queryRawUnsafe<{ id: bigint; page: number }[]>(
            `SELECT id, (ctid::text::point)[0]::int AS page FROM reminders WHERE id = ANY($1::bigint[])`,
            ids,
          )
        ).map((r) => [String(r.id), r.page]),
      );
    const before = await pages();
    expect(new Set(before.values()).size).toBeGreaterThan(1);
    // A job's marks at a time, each with a provider-sized message id.
    for (let i = 0; i < claims.length; i += 5)
      await Promise.all(claims.slice(i, i + 5).map((c, j) => ledger.markSent(c.id, `msg-${i + j}-${"x".repeat(28)}`)));
    expect(await pages()).toEqual(before);
  });
});
