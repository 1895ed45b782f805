import type { LightMyRequestResponse } from "fastify";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GrantStatus } from "../../src/db/client.js";
import { revokeOlderGrants } from "../../src/grants/status.js";
import { syncGrants } from "../../src/grants/sync.js";
import { NylasApi } from "../../src/nylas/client.js";
import { processWebhook, type WebhookDeps } from "../../src/webhooks/process.js";
import { CONNECT_COOKIE } from "../../src/web/connect/state.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { consentWithoutBrowser, startWebHarness, type WebHarness } from "../e2e/support.js";

const REVOKED_LINE = /^grant revoked: a newer grant has its address$/;

// One valid grant per address: the sign-in, the grant.created webhook and the grants sync
// each leave the newest valid grant of an address and revoke the older ones, keeping their rows.
describe("one valid grant per address (Postgres and the sandbox)", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  let nylas: NylasApi;
  let deps: WebhookDeps;
  const grants: string[] = [];

  /** A grant row only the database has (an account connected before), created `agoMs` ago. */
  const stored = async (email: string, agoMs: number, status: GrantStatus = "valid", id = uniqueId("old")) => {
    grants.push(id);
    await h.db.grant.create({
      data: { id, email, provider: "google", timeZone: "UTC", status, createdAt: new Date(Date.now() - agoMs) },
    });
    return id;
  };
  const row = (id: string) => h.db.grant.findUniqueOrThrow({ where: { id } });
  const revokedLines = (id: string) => h.sink.find(REVOKED_LINE).filter((l) => l.grantId === id);

  beforeAll(async () => {
    h = await startWebHarness({ sandbox: { clientId: "sandbox-client-id" } });
    app = await h.server();
    nylas = new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url, timeout: 5 });
    deps = {
      db: h.db,
      nylas,
      runsQueue: h.runsQueue,
      log: h.log,
      settings: { defaultTimeZone: "UTC", defaultSendHour: 18 },
    };
  });
  afterAll(async () => {
    await deleteGrants(h.db, grants);
    await h.close();
  });

  it("revokes the older valid and needs_reauth grants of the address, whatever its case, and nothing else", async () => {
    const email = `${uniqueId("dup")}@example.com`.toLowerCase();
    const me = await stored(email, 60_000, "valid", `m_${uniqueId()}`);
    const olderValid = await stored(email.toUpperCase(), 3_600_000);
    const olderReauth = await stored(email, 7_200_000, "needs_reauth");
    const olderRevoked = await stored(email, 9_000_000, "revoked");
    const newer = await stored(email, 1_000);
    const otherAddress = await stored(`${uniqueId("other")}@example.com`.toLowerCase(), 3_600_000);
    // Created in the same millisecond as `me`: the smaller id is the older.
    const createdAt = (await row(me)).createdAt;
    const tieSmaller = `a_${uniqueId()}`;
    const tieGreater = `z_${uniqueId()}`;
    for (const id of [tieSmaller, tieGreater]) {
      grants.push(id);
      await h.db.grant.create({ data: { id, email, provider: "google", timeZone: "UTC", createdAt } });
    }

    const revoked = await revokeOlderGrants(h.db, me, h.log);
    expect(revoked.sort()).toEqual([olderValid, olderReauth, tieSmaller].sort());
    for (const id of revoked) {
      expect(await row(id)).toMatchObject({ status: "revoked", statusReason: `replaced by newer grant ${me}` });
      // One info line each, naming the grants, never the address.
      expect(revokedLines(id)).toEqual([expect.objectContaining({ level: 30, replacedBy: me })]);
      expect(JSON.stringify(revokedLines(id))).not.toContain(email.split("@")[0]);
    }
    // Kept as they were: the grant itself, a revoked row (its own reason), newer ones, other addresses.
    expect(await row(olderRevoked)).toMatchObject({ status: "revoked", statusReason: null });
    for (const id of [me, newer, tieGreater, otherAddress]) expect((await row(id)).status).toBe("valid");
    // Done again: nothing left to revoke.
    expect(await revokeOlderGrants(h.db, me, h.log)).toEqual([]);
    // Gone, so the sync below sees only its own duplicates.
    await deleteGrants(h.db, [me, olderValid, olderReauth, olderRevoked, newer, otherAddress, tieSmaller, tieGreater]);
  });

  it("does nothing for a grant that is not valid", async () => {
    const email = `${uniqueId("nv")}@example.com`.toLowerCase();
    const me = await stored(email, 1_000, "needs_reauth");
    const older = await stored(email, 60_000);
    expect(await revokeOlderGrants(h.db, me, h.log)).toEqual([]);
    expect((await row(older)).status).toBe("valid");
  });

  it("a sign-in (the hosted OAuth callback) replaces the older grants of the address", async () => {
    const email = `${uniqueId("conn")}@example.com`.toLowerCase();
    const older = await stored(email.toUpperCase(), 86_400_000);
    const olderReauth = await stored(email, 2 * 86_400_000, "needs_reauth");
    // Created after the grant signed in below (a second account of the address, say): the
    // sign-in is the user's choice now, so it gives way too.
    const newer = await stored(email, -86_400_000);

    const start = await app.inject(`/connect/start?email=${encodeURIComponent(email)}`);
    expect(start.statusCode).toBe(302);
    const back = await consentWithoutBrowser(String(start.headers.location), email);
    const res = await app.inject({
      url: `/connect/callback?${back.searchParams.toString()}`,
      headers: { cookie: cookieOf(start) },
    });
    expect(res.statusCode).toBe(200);
    const fresh = h.sandbox.store.grantByEmail(email)!.grant.id;
    grants.push(fresh);

    expect((await row(fresh)).status).toBe("valid");
    for (const id of [older, olderReauth, newer]) {
      expect(await row(id)).toMatchObject({
        status: "revoked",
        statusReason: `replaced by grant ${fresh}, signed in since`,
      });
      expect(revokedLines(id)).toHaveLength(1);
    }
  });

  it("a grant.created webhook replaces the older grants of the address", async () => {
    const email = `${uniqueId("wh")}@example.com`.toLowerCase();
    const older = await stored(email, 86_400_000);
    const g = h.sandbox.addGrant({ email: email.toUpperCase(), timezone: "UTC" });
    grants.push(g.id);

    const r = await processWebhook(deps, { id: uniqueId("n"), type: "grant.created", grantId: g.id });
    expect(r).toMatchObject({ outcome: "applied", change: "created" });
    expect((await row(g.id)).status).toBe("valid");
    expect(await row(older)).toMatchObject({ status: "revoked", statusReason: `replaced by newer grant ${g.id}` });
    expect(revokedLines(older)).toHaveLength(1);
  });

  it("a grant.created for a grant Nylas says is invalid replaces nothing", async () => {
    const email = `${uniqueId("whi")}@example.com`.toLowerCase();
    const older = await stored(email, 86_400_000);
    const g = h.sandbox.addGrant({ email, timezone: "UTC", grant_status: "invalid" });
    grants.push(g.id);

    await processWebhook(deps, { id: uniqueId("n"), type: "grant.created", grantId: g.id });
    expect((await row(g.id)).status).toBe("needs_reauth");
    expect((await row(older)).status).toBe("valid");
  });

  it("after a sync each address has at most one valid grant, its newest", async () => {
    // A: Nylas' grant is new to the database: the stored ones are older.
    const a = `${uniqueId("sa")}@example.com`.toLowerCase();
    const aOld = await stored(a, 86_400_000);
    const aOlder = await stored(a.toUpperCase(), 2 * 86_400_000, "needs_reauth");
    const aGrant = h.sandbox.addGrant({ email: a, timezone: "UTC" }).id;
    grants.push(aGrant);
    // B: a newer valid row than Nylas' stored grant: the newer one is kept.
    const b = `${uniqueId("sb")}@example.com`.toLowerCase();
    const bGrant = h.sandbox.addGrant({ email: b, timezone: "UTC" }).id;
    grants.push(bGrant);
    await h.db.grant.create({
      data: { id: bGrant, email: b, provider: "google", timeZone: "UTC", createdAt: new Date(Date.now() - 86_400_000) },
    });
    const bNew = await stored(b, 1_000);
    // C: the newest is needs_reauth: the one valid grant stays valid.
    const c = `${uniqueId("sc")}@example.com`.toLowerCase();
    const cGrant = h.sandbox.addGrant({ email: c, timezone: "UTC" }).id;
    grants.push(cGrant);
    const cNewer = await stored(c, 1_000, "needs_reauth");
    await h.db.grant.create({
      data: { id: cGrant, email: c, provider: "google", timeZone: "UTC", createdAt: new Date(Date.now() - 86_400_000) },
    });

    const r = await syncGrants(h.db, nylas, h.log, { defaultTimeZone: "UTC", defaultSendHour: 18 });
    expect(r.errors).toBe(0);
    expect(r.replaced).toBe(3);
    expect((await row(aGrant)).status).toBe("valid");
    for (const id of [aOld, aOlder])
      expect(await row(id)).toMatchObject({ status: "revoked", statusReason: `replaced by newer grant ${aGrant}` });
    expect((await row(bNew)).status).toBe("valid");
    expect(await row(bGrant)).toMatchObject({ status: "revoked", statusReason: `replaced by newer grant ${bNew}` });
    expect((await row(cGrant)).status).toBe("valid");
    expect((await row(cNewer)).status).toBe("needs_reauth");

    // Every address of the database: at most one valid grant.
    const valid = await h.db.grant.findMany({ where: { status: "valid" }, select: { email: true } });
    const addresses = valid.map((g) => g.email.toLowerCase());
    expect(new Set(addresses).size).toBe(addresses.length);

    // A revoked grant stays revoked: the next sync changes nothing.
    const again = await syncGrants(h.db, nylas, h.log, { defaultTimeZone: "UTC", defaultSendHour: 18 });
    expect(again).toMatchObject({ replaced: 0, errors: 0 });
    expect((await row(bGrant)).status).toBe("revoked");
  });
});

/** The connect cookie the response set, as a request Cookie header value. */
function cookieOf(res: LightMyRequestResponse): string {
  const c = res.cookies.find((x) => x.name === CONNECT_COOKIE);
  if (!c) throw new Error("no connect cookie set");
  return `${c.name}=${c.value}`;
}
