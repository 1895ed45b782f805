import { createServer } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerApp, type WorkerApp } from "../../src/worker.js";
import { requeueDays } from "../../src/runs/requeue.js";
import type { Config } from "../../src/config.js";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { createRedis } from "../../src/redis/connection.js";
import { runJobId } from "../../src/runs/job.js";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { addDays, localDate } from "../../src/time/window.js";
import { startWebApp, type WebApp } from "../../src/web/app.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { BOARD_PASSWORD, BOARD_USER, chromiumVersion, launchChromium, testConfig, uniquePrefix } from "./support.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The page is refused: either a 401 is shown, or Chromium abandons the credentials. */
async function refused(page: Page, url: string): Promise<boolean> {
  try {
    const res = await page.goto(url);
    return res?.status() === 401;
  } catch (err) {
    return /ERR_INVALID_AUTH_CREDENTIALS/.test((err as Error).message);
  }
}

describe(`in headless Chromium (${chromiumVersion() || "chromium missing"})`, { timeout: 120_000 }, () => {
  let sandbox: Sandbox;
  let db: Db;
  let config: Config;
  let web: WebApp;
  let worker: WorkerApp;
  let base: string;
  const grants: string[] = [];
  const log = createLogger({ level: "silent" });

  beforeAll(async () => {
    sandbox = await startSandbox({});
    db = await testPrisma();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    config = testConfig(sandbox, uniquePrefix("e"), { NODE_ENV: "production", PUBLIC_URL: base });
    web = await startWebApp(config, log, { db, port, host: "127.0.0.1" });
    worker = await startWorkerApp(config, log, { db, scheduler: false });
  });
  afterAll(async () => {
    await worker?.runsQueue.obliterate({ force: true }).catch(() => {});
    await worker?.close(5000);
    await web?.close(2000);
    // The queues' meta keys outlive obliterate and close: leave the shared Redis clean.
    if (config) {
      const redis = createRedis(config.REDIS_URL);
      const keys = await redis.keys(`${config.QUEUE_PREFIX}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await deleteGrants(db, grants);
    await sandbox?.close();
  });

  it("an operator logs in to Bull Board and sees the runs queue with a completed job", async () => {
    // One real nightly run, processed by the worker.
    const email = `${uniqueId("board")}@example.com`.toLowerCase();
    const grantId = sandbox.addGrant({ email, timezone: "UTC" }).id;
    grants.push(grantId);
    await db.grant.create({ data: { id: grantId, email, provider: "google", timeZone: "UTC" } });
    const day = addDays(localDate("UTC", new Date()), -1);
    const start = Date.parse(`${day}T10:00:00Z`) / 1000;
    sandbox.addEvent(grantId, {
      title: "Board check",
      when: { object: "timespan", start_time: start, end_time: start + 900 },
      participants: [{ email: "guest@example.com", status: "yes" }],
    });
    await requeueDays(db, worker.runsQueue, { id: grantId, timeZone: "UTC" }, [day], "backfill");
    await waitForIdle(worker.runsQueue, 20_000);
    const jobId = runJobId(grantId, day);
    expect(await worker.runsQueue.getJobState(jobId)).toBe("completed");

    // Without credentials: a Basic challenge, 401 and nothing else (Chromium, which has no
    // one to ask, abandons the page).
    const anon = await launchChromium();
    try {
      const page = await anon.context.newPage();
      expect(await refused(page, `${base}/admin/queues`)).toBe(true);
      const res = await anon.context.request.get(`${base}/admin/queues`);
      expect(res.status()).toBe(401);
      expect(res.headers()["www-authenticate"]).toMatch(/^Basic /);
      expect(await res.text()).toBe("Unauthorized");
    } finally {
      await anon.close();
    }
    // Wrong credentials: the server keeps answering 401, so Chromium gives up on them.
    const wrong = await launchChromium({ httpCredentials: { username: BOARD_USER, password: "wrong password" } });
    try {
      expect(await refused(await wrong.context.newPage(), `${base}/admin/queues`)).toBe(true);
    } finally {
      await wrong.close();
    }

    const op = await launchChromium({ httpCredentials: { username: BOARD_USER, password: BOARD_PASSWORD } });
    try {
      const page = await op.context.newPage();
      const res = await page.goto(`${base}/admin/queues`);
      expect(res?.status()).toBe(200);
      // The overview lists every queue of the project.
      for (const name of ["runs", "scheduler", "webhooks"])
        await expect(
          page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 }),
        ).resolves.toBeUndefined();
      await page.goto(`${base}/admin/queues/queue/runs?status=completed`);
      await page.getByText(jobId).first().waitFor({ timeout: 15_000 });
      const text = await page.textContent("body");
      expect(text).toContain(jobId);
      expect(text).not.toContain(sandbox.apiKey);
    } finally {
      await op.close();
    }
  });

  it("a DNS-rebinding page cannot use Bull Board of a web dyno that has no credentials", async () => {
    // A development web dyno: no BULL_BOARD_USER/PASSWORD, so it trusts this machine's browser.
    const port = await freePort();
    const noLogin = { BULL_BOARD_USER: undefined, BULL_BOARD_PASSWORD: undefined };
    const dev = testConfig(sandbox, config.QUEUE_PREFIX, noLogin);
    const devWeb = await startWebApp(dev, log, { db, port, host: "127.0.0.1" });
    // evil.example resolves to this machine, as the attacker's DNS made it do once its page loaded.
    // Chromium's own Local Network Access checks would stop this page too; other browsers and
    // older ones do not, and the server must not rely on them: they are off here.
    const features = ["LocalNetworkAccessChecks", "BlockInsecurePrivateNetworkRequests"];
    features.push("PrivateNetworkAccessSendPreflights");
    const lna = `--disable-features=${features.join(",")}`;
    const b = await launchChromium({ args: ["--host-resolver-rules=MAP evil.example 127.0.0.1", lna] });
    try {
      const page = await b.context.newPage();
      // The attacker's page itself came from the attacker's server, before the rebinding.
      const attack = `http://evil.example:${port}/cute-cats`;
      const cats = { contentType: "text/html", body: "<!doctype html><title>cats</title>" };
      await page.route(attack, (route) => route.fulfill(cats));
      expect((await page.goto(attack))?.status()).toBe(200);
      const answers = await page.evaluate(async () => {
        const job = { name: "grant-notification", data: { id: "rebinding", type: "grant.deleted", grantId: "victim" } };
        const json = { "content-type": "application/json" };
        const calls: [string, RequestInit][] = [
          ["/admin/queues/api/queues", {}],
          ["/admin/queues/api/queues/webhooks/pause", { method: "PUT" }],
          ["/admin/queues/api/queues/webhooks/add", { method: "POST", headers: json, body: JSON.stringify(job) }],
        ];
        const statuses: number[] = [];
        for (const [url, init] of calls) statuses.push((await fetch(url, init)).status);
        return statuses;
      });
      expect(answers).toEqual([403, 403, 403]);
      expect((await page.goto(`http://evil.example:${port}/admin/queues`))?.status()).toBe(403);

      // The same browser at localhost is the developer: served, and it sees nothing changed.
      expect((await page.goto(`http://localhost:${port}/admin/queues`))?.status()).toBe(200);
      const webhooks = await page.evaluate(async () => {
        const res = await fetch("/admin/queues/api/queues");
        type Queues = { queues: { name: string; isPaused: boolean; counts: Record<string, number> }[] };
        const body = (await res.json()) as Queues;
        return body.queues.find((q) => q.name === "webhooks");
      });
      expect(webhooks?.isPaused).toBe(false);
      expect(Object.values(webhooks?.counts ?? { missing: 1 }).every((n) => n === 0)).toBe(true);
    } finally {
      await b.close();
      await devWeb.close(2000);
    }
  });

  it("a user connects an account through /connect and the sandbox's consent page; the grant appears in the database with the browser's zone", async () => {
    const email = `${uniqueId("browser")}@example.com`.toLowerCase();
    // A Microsoft account, whose calendar reports no zone: the browser's is the best source.
    grants.push(sandbox.addGrant({ email, provider: "microsoft", timezone: null }).id);
    // (Not Asia/Kolkata: Chromium reports ICU's name for it, Asia/Calcutta, a valid IANA link kept as given.)
    const b = await launchChromium({ timezoneId: "Australia/Adelaide" });
    try {
      const page = await b.context.newPage();
      await page.goto(`${base}/connect?email=${encodeURIComponent(email)}`);
      // The page read the zone and went on by itself: now on the sandbox's hosted-login page.
      await page.waitForURL(`${sandbox.url}/v3/connect/auth?**`);
      expect(await page.inputValue("#email")).toBe(email);
      await page.selectOption("#provider", "microsoft");
      await Promise.all([page.waitForURL(`${base}/connect/callback?**`), page.click("#allow")]);
      await page.locator("#connected").waitFor();
      expect(await page.textContent("#email")).toBe(email);
      expect(await page.textContent("#zone")).toBe("Australia/Adelaide");
      expect(await page.textContent("#zone-source")).toBe("from your browser");
      const shownId = (await page.textContent("#grant-id"))!;
      expect(await db.grant.findUnique({ where: { id: shownId } })).toMatchObject({
        email,
        provider: "microsoft",
        status: "valid",
        timeZone: "Australia/Adelaide",
        timeZoneSource: "browser",
      });
      // The cookie was single use: going back to the callback URL is refused.
      const again = await page.goto(page.url());
      expect(again?.status()).toBe(400);
      expect(await page.textContent("#error")).toMatch(/did not start this sign-in/);
    } finally {
      await b.close();
    }
  });

  it("without JavaScript the connect page still works, through its link, without a zone", async () => {
    const email = `${uniqueId("nojs")}@example.com`.toLowerCase();
    grants.push(sandbox.addGrant({ email, provider: "microsoft", timezone: null }).id);
    const b = await launchChromium({ timezoneId: "Asia/Kolkata", javaScriptEnabled: false });
    try {
      const page = await b.context.newPage();
      const res = await page.goto(`${base}/connect?email=${encodeURIComponent(email)}`);
      expect(res?.status()).toBe(200);
      expect(page.url().startsWith(`${base}/connect?`)).toBe(true); // nothing moved on by itself
      await Promise.all([page.waitForURL(`${sandbox.url}/v3/connect/auth?**`), page.click("#continue")]);
      await Promise.all([page.waitForURL(`${base}/connect/callback?**`), page.click("#allow")]);
      await page.locator("#connected").waitFor();
      expect(await page.textContent("#zone")).toBe("UTC");
      expect(await page.getAttribute("#zone-source", "data-source")).toBe("default");
      expect(await db.grant.findFirst({ where: { email } })).toMatchObject({
        timeZone: "UTC",
        timeZoneSource: "default",
      });
    } finally {
      await b.close();
    }
  });
});
