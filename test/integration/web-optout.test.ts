import { startSandbox, type Sandbox } from "nylas-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { messageOptOut } from "../../src/optout/message.js";
import { unsubscribeSettings } from "../../src/optout/settings.js";
import { listSuppressedFor, suppress, undo } from "../../src/optout/store.js";
import { signToken } from "../../src/optout/token.js";
import { createRedis } from "../../src/redis/connection.js";
import { startWebApp, type WebApp } from "../../src/web/app.js";
import { testPrisma, uniqueId } from "../support/db.js";
import { testConfig, uniquePrefix } from "../e2e/support.js";
import { LogSink } from "../support/pipeline.js";

const SECRET = "unsubscribe-secret-for-tests-0123";
const PUBLIC_URL = "https://reminders.example.com";

/** Addresses of this file only, so rows of other files are never touched. */
const address = (tag: string) =>
  `${tag}-${uniqueId("u")
    .replace(/[^a-z0-9-]/gi, "")
    .toLowerCase()}@example.com`;

describe("suppressions store (Postgres)", () => {
  let db: Db;
  const sender = address("owner");
  beforeAll(async () => {
    db = await testPrisma();
  });
  afterAll(async () => {
    await db.suppression.deleteMany({ where: { OR: [{ sender }, { recipient: { startsWith: "st-" } }] } });
  });

  it("suppresses idempotently, per sender or for every sender, and undoes", async () => {
    const ann = address("st-ann");
    const bob = address("st-bob");
    const cy = address("st-cy");
    await suppress(db, ann.toUpperCase(), sender);
    await suppress(db, ann, sender);
    await suppress(db, bob, "");
    await suppress(db, cy, "someone-else@example.com");
    expect(await listSuppressedFor(db, sender.toUpperCase(), [ann, bob, cy, "nobody@example.com"])).toEqual(
      new Set([ann, bob]),
    );
    expect(await db.suppression.count({ where: { recipient: ann } })).toBe(1);
    expect(await undo(db, ann, sender)).toBe(true);
    expect(await undo(db, ann, sender)).toBe(false);
    expect(await listSuppressedFor(db, sender, [ann, bob])).toEqual(new Set([bob]));
    await suppress(db, ann, sender);
    expect(await listSuppressedFor(db, sender, [ann])).toEqual(new Set([ann]));
    expect(await listSuppressedFor(db, sender, [])).toEqual(new Set());
    await db.suppression.deleteMany({ where: { recipient: { in: [ann, bob, cy] } } });
  });
});

describe("unsubscribe over HTTP (the web app, listening)", () => {
  let sandbox: Sandbox;
  let db: Db;
  let config: Config;
  let web: WebApp;
  const sink = new LogSink();
  const sender = address("owner");

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 0 });
    db = await testPrisma();
    config = testConfig(sandbox, uniquePrefix("o"), { UNSUBSCRIBE_SECRET: SECRET, PUBLIC_URL });
    web = await startWebApp(config, createLogger({ level: "info" }, sink.stream), { db, port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await web?.close(2000);
    if (config) {
      const redis = createRedis(config.REDIS_URL);
      const keys = await redis.keys(`${config.QUEUE_PREFIX}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await db?.suppression.deleteMany({ where: { sender } });
    await sandbox?.close();
  });

  /** The path of a message's link, as the worker composes it. */
  const linkFor = (...recipients: string[]) => {
    const o = messageOptOut(
      unsubscribeSettings(config)!,
      "google",
      sender,
      recipients.map((email) => ({ email })),
    );
    return { path: o.url.slice(PUBLIC_URL.length), headers: o.headers };
  };
  const get = (path: string) => fetch(web.url + path, { redirect: "manual" });
  const post = (path: string, body: string, type = "application/x-www-form-urlencoded") =>
    fetch(web.url + path, { method: "POST", body, headers: { "content-type": type }, redirect: "manual" });
  const isSuppressed = async (recipient: string) => (await listSuppressedFor(db, sender, [recipient])).has(recipient);

  it("one-click: the RFC 8058 POST suppresses the token's recipient, 200, no login, no cookie; again is the same", async () => {
    const ann = address("ann");
    const { path, headers } = linkFor(ann);
    expect(headers.map((h) => h.name)).toEqual(["List-Unsubscribe", "List-Unsubscribe-Post"]);
    for (let i = 0; i < 2; i++) {
      const res = await post(path, "List-Unsubscribe=One-Click");
      expect(res.status).toBe(200);
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(await res.text()).toContain(`No more reminders from <strong>${sender}</strong>`);
    }
    expect(await isSuppressed(ann)).toBe(true);
    expect(await db.suppression.count({ where: { recipient: ann, sender } })).toBe(1);
    // The log says it happened, never to whom.
    expect(sink.lines.some((l) => l.msg === "unsubscribed")).toBe(true);
    expect(sink.lines.some((l) => JSON.stringify(l).includes(ann))).toBe(false);
  });

  it("one-click as multipart/form-data (RFC 8058 allows either)", async () => {
    const bob = address("bob");
    const body = '--b1\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b1--\r\n';
    const res = await post(linkFor(bob).path, body, "multipart/form-data; boundary=b1");
    expect(res.status).toBe(200);
    expect(await isSuppressed(bob)).toBe(true);
  });

  it("the page: names sender and recipient with a button; after it, an Undo that works from the same page", async () => {
    const cy = address("cy");
    const { path } = linkFor(cy);
    const page = await get(path);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain(`<title>Stop reminders from ${sender} to ${cy}</title>`);
    expect(html).toContain(`<form method="post" action="${path}">`);
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(html).not.toContain("<script");

    // The button posts the form's fields.
    expect((await post(path, "List-Unsubscribe=One-Click")).status).toBe(200);
    const stopped = await (await get(path)).text();
    expect(stopped).toContain(`<form method="post" action="${path}/undo">`);
    expect(stopped).toContain('id="undo"');

    const undone = await post(`${path}/undo`, "");
    expect(undone.status).toBe(200);
    expect(await undone.text()).toContain("will be sent to");
    expect(await isSuppressed(cy)).toBe(false);
    expect(await (await get(path)).text()).toContain('id="unsubscribe"');
    // Undo again: still 200, still not suppressed.
    expect((await post(`${path}/undo`, "")).status).toBe(200);
    expect(await isSuppressed(cy)).toBe(false);
  });

  it("several recipients: the page asks for the address, validates it, suppresses only it; undo takes it too", async () => {
    const dan = address("dan");
    const eve = address("eve");
    const { path, headers } = linkFor(dan, eve);
    expect(headers.map((h) => h.name)).toEqual(["List-Unsubscribe"]);
    const page = await (await get(path)).text();
    expect(page).toContain(`<title>Stop reminders from ${sender}</title>`);
    expect(page).toContain('<input type="email" name="email"');

    // A one-click POST without an address cannot know who clicked.
    const noAddress = await post(path, "List-Unsubscribe=One-Click");
    expect(noAddress.status).toBe(400);
    expect(await noAddress.text()).toContain("Enter a valid email address.");
    const bad = await post(path, `List-Unsubscribe=One-Click&email=${encodeURIComponent("<b>not</b>")}`);
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).not.toContain("<b>not</b>");
    expect(badHtml).toContain("&lt;b&gt;not&lt;/b&gt;");

    const ok = await post(path, `List-Unsubscribe=One-Click&email=${encodeURIComponent(dan.toUpperCase())}`);
    expect(ok.status).toBe(200);
    const okHtml = await ok.text();
    expect(okHtml).toContain(`<input type="hidden" name="email" value="${dan}">`);
    expect(await isSuppressed(dan)).toBe(true);
    expect(await isSuppressed(eve)).toBe(false);

    expect((await post(`${path}/undo`, "")).status).toBe(400);
    expect((await post(`${path}/undo`, `email=${encodeURIComponent(dan)}`)).status).toBe(200);
    expect(await isSuppressed(dan)).toBe(false);
  });

  it("a bad token: 400 page for edited, truncated or foreign-key tokens; nothing suppressed", async () => {
    const fay = address("fay");
    const { path } = linkFor(fay);
    const token = path.slice("/unsubscribe/".length);
    const foreign = signToken("another-secret-0123456789", { recipient: fay, sender });
    const edited = signToken(SECRET, { recipient: address("gus"), sender }).split(".")[0] + "." + token.split(".")[1];
    for (const t of [token.slice(0, -2), foreign, edited, "nonsense"]) {
      const page = await get(`/unsubscribe/${t}`);
      expect(page.status, t).toBe(400);
      expect(await page.text()).toContain("This unsubscribe link is not valid");
      expect((await post(`/unsubscribe/${t}`, "List-Unsubscribe=One-Click")).status).toBe(400);
      expect((await post(`/unsubscribe/${t}/undo`, "")).status).toBe(400);
    }
    expect(await isSuppressed(fay)).toBe(false);
    expect((await get(`/unsubscribe/${token}/extra`)).status).toBe(404);
  });

  it("without UNSUBSCRIBE_SECRET: every unsubscribe route answers a 404 page", async () => {
    const bare = testConfig(sandbox, config.QUEUE_PREFIX);
    expect(bare.UNSUBSCRIBE_SECRET).toBeUndefined();
    const other = await startWebApp(bare, createLogger({ level: "silent" }), { db, port: 0, host: "127.0.0.1" });
    try {
      const { path } = linkFor(address("hal"));
      const page = await fetch(other.url + path);
      expect(page.status).toBe(404);
      expect(await page.text()).toContain("not set up on this server");
      const res = await fetch(other.url + path, {
        method: "POST",
        body: "List-Unsubscribe=One-Click",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      expect(res.status).toBe(404);
    } finally {
      await other.close(2000);
    }
  });

  it("a bad body: 400 page, nothing suppressed", async () => {
    const gil = address("gil");
    const { path } = linkFor(gil);
    const bodies: [string, string][] = [
      ["", "application/x-www-form-urlencoded"],
      ["List-Unsubscribe=Yes", "application/x-www-form-urlencoded"],
      ["List-Unsubscribe=One-Click", "text/plain"],
      ['{"List-Unsubscribe":"One-Click"}', "application/json"],
      ["List-Unsubscribe=One-Click", "application/xml"],
    ];
    for (const [body, type] of bodies) {
      const res = await post(path, body, type);
      expect(res.status, `${type} ${body}`).toBe(400);
      expect(res.headers.get("content-type")).toContain("text/html");
    }
    const noBody = await fetch(web.url + path, { method: "POST" });
    expect(noBody.status).toBe(400);
    const tooBig = await post(path, `List-Unsubscribe=One-Click&x=${"a".repeat(20_000)}`);
    expect(tooBig.status).toBe(413);
    expect(await isSuppressed(gil)).toBe(false);
  });
});
