/**
 * The eight chaos scenarios. Each runs one batch, does its damage while the batch runs, lets
 * it settle and applies the same invariants (Batch.check), plus its own figures. Each also
 * checks that its damage happened, so none can pass without it.
 */
import { markGrantValid } from "../src/grants/status.js";
import { PrivateRedis } from "../harness/redis-server.js";
import { Batch, sleep, type ChaosSettings, type CheckOptions, type ScenarioResult } from "./batch.js";
import { hostileBeforeSync, hostileCheck, hostileInputs, hostileZones } from "./hostile.js";

export interface ScenarioContext {
  settings: ChaosSettings;
  /** The private Redis the batch uses (scenario 2 restarts it). */
  redis: PrivateRedis;
  random: () => number;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** Runs a batch with `during` alongside it, then checks; always cleans up. */
async function withBatch(
  name: string,
  title: string,
  ctx: ScenarioContext,
  batch: Batch,
  during: (b: Batch) => Promise<Record<string, string | number> | void>,
  opts: {
    /** Runs after the batch is open, before its workers start (faults that must fire). */
    beforeStart?: (b: Batch) => void;
    check?: () => CheckOptions;
    after?: (b: Batch) => Promise<{ problems: string[]; figures: Record<string, string | number> }>;
  } = {},
): Promise<ScenarioResult> {
  const started = Date.now();
  const problems: string[] = [];
  let figures: Record<string, string | number> = {};
  try {
    await batch.open();
    opts.beforeStart?.(batch);
    await batch.start();
    const own = (await during(batch)) ?? {};
    const settled = await batch.waitSettled();
    await batch.stopScheduler();
    const r = await batch.check(settled, opts.check?.() ?? {});
    problems.push(...r.problems);
    figures = { ...r.figures, ...own };
    if (opts.after) {
      const extra = await opts.after(batch);
      problems.push(...extra.problems);
      figures = { ...figures, ...extra.figures };
    }
  } catch (err) {
    problems.push(`scenario aborted: ${(err as Error).message}`);
  } finally {
    await batch.close();
  }
  return { name, title, ok: problems.length === 0, ms: Date.now() - started, figures, problems };
}

const pick = <T>(xs: T[], random: () => number): T | undefined =>
  xs.length ? xs[Math.floor(random() * xs.length)] : undefined;

/**
 * kill -9 of a random worker at `target` moments spread over the batch's progress, restarted
 * after a short pause. Each kill fires inside the sandbox's handling of a send (the n-th
 * accepted send of the batch), so it lands mid-batch however fast the machine is.
 */
function killsBySend(
  b: Batch,
  ctx: ScenarioContext,
  target: number,
  from = 0.05,
  to = 0.15,
): { kills: () => number[] } {
  const total = Math.max(1, b.expected().length);
  const at = Array.from({ length: target }, (_, k) =>
    Math.max(1, Math.floor(total * (from + ((to - from) * k) / Math.max(1, target - 1)))),
  );
  const done: number[] = [];
  let sends = 0;
  const limiter = b.sandbox.limiter;
  const hitSend = limiter.hitSend.bind(limiter);
  limiter.hitSend = (grantId, provider, now) => {
    const retry = hitSend(grantId, provider, now);
    if (retry > 0) return retry;
    sends++;
    if (done.length < at.length && sends >= at[done.length]!) {
      const alive = Array.from({ length: b.fleet.size }, (_, i) => i).filter((i) => b.fleet.alive(i));
      const i = pick(alive, ctx.random);
      if (i !== undefined) {
        b.fleet.kill(i);
        done.push(sends);
        setTimeout(() => b.fleet.start(i), 200 + ctx.random() * 800);
      }
    }
    return 0;
  };
  return { kills: () => done };
}

/** True once the queue has nothing left (checked at most every 500 ms). */
function drainedProbe(b: Batch): () => boolean {
  let drained = false;
  let last = 0;
  return () => {
    if (Date.now() - last > 500) {
      last = Date.now();
      void b.unsettled().then(
        (u) =>
          (drained =
            u.counts.waiting + u.counts.active + u.counts.delayed + u.counts.prioritized === 0 && b.progress() > 0.5),
        () => {},
      );
    }
    return drained;
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "kill",
    title: "kill -9 of workers mid-batch, restarted each time",
    run: (ctx) =>
      withBatch(
        "kill",
        "kill -9",
        ctx,
        new Batch("kill", ctx.settings),
        async (b) => {
          const plan = killsBySend(b, ctx, ctx.settings.kills);
          // The kills fire at fixed shares of the sends (5% to 15%): a batch that gets past
          // them has had them all, however fast the machine.
          await b.waitProgress(0.2);
          const at = plan.kills();
          if (at.length < ctx.settings.kills)
            throw new Error(`only ${at.length} of ${ctx.settings.kills} kills happened by 20% of the sends`);
          const total = b.expected().length;
          return {
            kills: at.length,
            "kills at": `${Math.round((at[0]! / total) * 100)}%…${Math.round((at.at(-1)! / total) * 100)}% of sends`,
          };
        },
        {
          // A kill that hit no running job would leave every run on its first attempt.
          after: async (b) => {
            const rerun = await b.db.run.count({ where: { attempts: { gt: 1 } } });
            return {
              problems: rerun === 0 ? ["no run was interrupted by the kills"] : [],
              figures: { "runs interrupted": rerun },
            };
          },
        },
      ),
  },
  {
    name: "redis",
    title: "Redis restarted with its data lost mid-batch",
    run: (ctx) =>
      withBatch("redis", "Redis lost", ctx, new Batch("redis", ctx.settings), async (b) => {
        await b.waitProgress(0.35);
        const before = await b.unsettled();
        const at = Math.round(b.progress() * 100);
        await ctx.redis.restart(1000);
        const enqueuedBefore = b.tickEnqueued;
        // Recovery: the next ticks find the unsettled runs in Postgres and queue them again.
        const lost = before.counts.waiting + before.counts.active + before.counts.delayed;
        if (lost === 0) throw new Error("no job was in Redis when it lost its data: the scenario tested nothing");
        const deadline = Date.now() + ctx.settings.timeoutMs;
        while (b.tickEnqueued === enqueuedBefore && Date.now() < deadline) await sleep(200);
        if (b.tickEnqueued === enqueuedBefore) throw new Error("no tick re-enqueued a lost run after Redis came back");
        return { "restart at": `${at}% sent`, "jobs lost": lost, "re-enqueued": b.tickEnqueued - enqueuedBefore };
      }),
  },
  {
    name: "postgres",
    title: "Postgres unreachable mid-batch",
    run: (ctx) =>
      withBatch(
        "postgres",
        "Postgres down",
        ctx,
        new Batch("postgres", ctx.settings, { proxyDatabase: true }),
        async (b) => {
          await b.waitProgress(0.3);
          const at = Math.round(b.progress() * 100);
          const sentBefore = b.sandbox.sentCount();
          const cut = await b.proxy!.cut();
          if (cut === 0) throw new Error("the outage cut no open connection: the workers held none");
          await sleep(ctx.settings.outageMs);
          const sentDuring = b.sandbox.sentCount() - sentBefore;
          await b.proxy!.restore();
          return {
            "outage at": `${at}% sent`,
            "outage s": Math.round(ctx.settings.outageMs / 1000),
            "connections cut": cut,
            "sent during outage": sentDuring,
          };
        },
      ),
  },
  {
    name: "storms",
    title: "429 storms on a tenth of the grants, 5xx bursts and dropped connections on all",
    run: (ctx) => {
      const batch = new Batch("storms", ctx.settings);
      return withBatch(
        "storms",
        "429/5xx/drops",
        ctx,
        batch,
        async (b) => {
          const ids = b.sandbox.grantIds().filter((id) => b.validAtStart.has(id));
          const storm = new Set(ids.filter((_, i) => i === 0 || ctx.random() < 0.1));
          // The sandbox's limiter answers 429 (with Retry-After) for the storm grants, half of
          // their requests, in storms of 4 s every 6 s; others are untouched.
          const limiter = b.sandbox.limiter;
          const hitRequest = limiter.hitRequest.bind(limiter);
          const hitSend = limiter.hitSend.bind(limiter);
          const inStorm = (now: number) => (now - b.started) % 6000 < 4000;
          let stormed = 0;
          // A storm grant's first request always meets one, so every storm grant is hit.
          const hit = new Set<string>();
          const first = (grantId: string) => !hit.has(grantId) && hit.add(grantId) !== undefined;
          const stormy = (grantId: string, now: number) =>
            storm.has(grantId) && (first(grantId) || (inStorm(now) && ctx.random() < 0.5)) && ++stormed > 0;
          limiter.hitRequest = (grantId, now) =>
            stormy(grantId, now) ? 1 + Math.floor(ctx.random() * 2) : hitRequest(grantId, now);
          limiter.hitSend = (grantId, provider, now) => (stormy(grantId, now) ? 1 : hitSend(grantId, provider, now));
          // 5xx bursts and dropped connections on every grant: one second in three, about a
          // third of all requests fail (so retries meet the next burst, but do get through).
          let bursts = 0;
          const done = drainedProbe(b);
          while (!done() && b.progress() < 0.98) {
            b.sandbox.injectFault({ kind: 503, count: null, probability: 0.12 });
            b.sandbox.injectFault({ kind: 500, count: null, probability: 0.06 });
            b.sandbox.injectFault({ kind: 502, count: null, probability: 0.06 });
            b.sandbox.injectFault({ kind: 504, count: null, probability: 0.04 });
            b.sandbox.injectFault({ kind: "drop", count: null, probability: 0.06 });
            bursts++;
            await sleep(1000);
            b.sandbox.clearFaults();
            await sleep(2000);
          }
          b.sandbox.clearFaults();
          return { "storm grants": storm.size, "429s injected": stormed, bursts };
        },
        {
          // One burst of each kind is certain, before any worker starts.
          beforeStart: (b) => {
            b.sandbox.injectFault({ kind: 503, count: 3 });
            b.sandbox.injectFault({ kind: "drop", count: 2 });
          },
          after: async (b) => {
            const log = b.sandbox.requestLog();
            const problems: string[] = [];
            if (!log.some((e) => e.status === 429)) problems.push("no 429 was answered: the storm did not happen");
            if (!log.some((e) => e.status >= 500)) problems.push("no 5xx was answered: the bursts did not happen");
            if (!log.some((e) => e.note === "dropped")) problems.push("no connection was dropped");
            return { problems, figures: {} };
          },
        },
      );
    },
  },
  {
    name: "invalidate",
    title: "grants invalidated in the middle of their jobs",
    run: (ctx) => {
      const invalidated = new Set<string>();
      const restored = new Set<string>();
      const batch = new Batch("invalidate", ctx.settings);
      return withBatch(
        "invalidate",
        "invalidated mid-job",
        ctx,
        batch,
        async (b) => {
          await b.waitProgress(0.8);
          if (invalidated.size === 0) throw new Error("no grant was invalidated mid-job");
          // Let the batch settle, then half of those users re-authenticate (as the connect
          // flow or a grant.updated webhook would report): their days must be finished.
          if (!(await b.waitSettled())) throw new Error("batch did not settle before the re-authentication step");
          for (const id of [...invalidated].filter((_, i) => i % 2 === 0)) {
            b.sandbox.restoreGrant(id);
            await markGrantValid(b.db, id, "re-authenticated (chaos)");
            restored.add(id);
          }
          await b.tick();
          const refused = new Set(
            b.sandbox
              .requestLog()
              .filter((e) => e.status === 401 && e.grantId)
              .map((e) => e.grantId),
          );
          const met = [...invalidated].filter((id) => refused.has(id)).length;
          if (met === 0) throw new Error("no invalidated grant met a 401: the jobs were not mid-run");
          return { invalidated: invalidated.size, "met a 401": met, "re-authenticated": restored.size };
        },
        {
          beforeStart: (b) => {
            const target = Math.max(5, Math.round(ctx.settings.grants * 0.05));
            const perGrant = new Map<string, number>();
            for (const e of b.expected()) perGrant.set(e.grantId, (perGrant.get(e.grantId) ?? 0) + 1);
            // Invalidated inside a grant's first accepted send: the send goes out, the job's
            // next request meets a 401. Grants with two or more reminders only, so it has one.
            const limiter = b.sandbox.limiter;
            const hitSend = limiter.hitSend.bind(limiter);
            limiter.hitSend = (grantId, provider, now) => {
              const retry = hitSend(grantId, provider, now);
              if (
                retry === 0 &&
                invalidated.size < target &&
                !invalidated.has(grantId) &&
                (perGrant.get(grantId) ?? 0) >= 2
              ) {
                b.sandbox.invalidateGrant(grantId);
                invalidated.add(grantId);
              }
              return retry;
            };
          },
          check: () => ({ mayMiss: new Set([...invalidated].filter((id) => !restored.has(id))) }),
        },
      );
    },
  },
  {
    name: "sent-check",
    title: "process dying between a send and the ledger update",
    run: (ctx) => {
      const batch = new Batch("sent-check", ctx.settings);
      return withBatch(
        "sent-check",
        "died after send",
        ctx,
        batch,
        async (b) => {
          // The send happens at the sandbox, then the connection dies before the answer: for
          // the worker exactly a crash between the send and the ledger update.
          b.sandbox.injectFault({ kind: "drop_after", routeClass: "send", probability: 0.04, count: null });
          const plan = killsBySend(b, ctx, ctx.settings.sendKills);
          await b.waitProgress(0.97);
          b.sandbox.clearFaults();
          return { kills: plan.kills().length };
        },
        {
          // The first sends' answers are always lost: the scenario never depends on chance.
          beforeStart: (b) => b.sandbox.injectFault({ kind: "drop_after", routeClass: "send", count: 3 }),
          after: async (b) => {
            const log = b.sandbox.requestLog();
            const lookups = log.filter((e) => e.route === "messages.list").length;
            // Per provider: sends whose answer was lost, and how each came back without a
            // second delivery (the batch's invariants already prove none was delivered twice).
            const provider = (grantId: string | undefined) => (grantId ? b.sandbox.grant(grantId).provider : "?");
            const rows = new Map<string, { dropped: number; inSent: number; byKey: number; uncertain: number }>();
            const row = (p: string) =>
              rows.get(p) ?? rows.set(p, { dropped: 0, inSent: 0, byKey: 0, uncertain: 0 }).get(p)!;
            for (const e of log) if (e.note === "dropped_after") row(provider(e.grantId)).dropped++;
            const count = (re: RegExp, key: "inSent" | "byKey" | "uncertain") => {
              for (const line of b.workerLogLines(re)) {
                const grantId = /"grantId":"([^"]+)"/.exec(line)?.[1];
                row(provider(grantId))[key]++;
              }
            };
            count(/reminder found in Sent folder/, "inSent");
            count(/already sent under its Idempotency-Key/, "byKey");
            count(/reminder uncertain:/, "uncertain");
            const problems: string[] = [];
            const dropped = [...rows.values()].reduce((a, r) => a + r.dropped, 0);
            if (dropped === 0)
              problems.push("no send was dropped after it happened: the scenario did not exercise anything");
            for (const [p, r] of rows)
              if (r.dropped > 0 && r.inSent + r.byKey === 0)
                problems.push(`${p}: ${r.dropped} send(s) lost their answer and none was recovered`);
            const figures: Record<string, string | number> = {
              "sent then dropped": dropped,
              "Sent-folder lookups": lookups,
            };
            for (const [p, r] of [...rows].sort())
              figures[p] =
                `dropped ${r.dropped}, found in Sent ${r.inSent}, answered by key ${r.byKey}, uncertain ${r.uncertain}`;
            return { problems, figures };
          },
        },
      );
    },
  },
  {
    name: "api-key",
    title: "the application's API key refused by Nylas for a while mid-batch",
    run: (ctx) => {
      const batch = new Batch("api-key", ctx.settings, { env: { NYLAS_KEY_CHECK_EVERY_MS: "1000" } });
      let outage = { from: 0, to: 0 };
      return withBatch(
        "api-key",
        "API key refused",
        ctx,
        batch,
        async (b) => {
          await b.waitProgress(0.3);
          const at = Math.round(b.progress() * 100);
          const key = b.sandbox.apiKey;
          const sentBefore = b.sandbox.sentCount();
          outage = { from: Date.now(), to: 0 };
          // A rotated key that the deployment has not caught up with: every route answers 401.
          b.sandbox.setApiKey(`${key}-rotated`);
          await sleep(ctx.settings.keyOutageMs);
          const sentDuring = b.sandbox.sentCount() - sentBefore;
          b.sandbox.setApiKey(key);
          outage.to = Date.now();
          return {
            "key refused at": `${at}% sent`,
            "key refused s": Math.round(ctx.settings.keyOutageMs / 1000),
            "sent while refused": sentDuring,
          };
        },
        {
          after: async (b) => {
            const problems: string[] = [];
            const refused = b.sandbox
              .requestLog()
              .filter((e) => e.status === 401 && e.at >= outage.from && e.at <= outage.to).length;
            if (refused === 0) problems.push("no request met the refused key: the scenario tested nothing");
            // Not one user is asked to sign in again for the application's own mistake.
            const marked = await b.db.grant.count({
              where: { status: { not: "valid" }, id: { in: [...b.validAtStart] } },
            });
            if (marked > 0) problems.push(`${marked} grant(s) marked for the application's refused key`);
            const paused = b.workerLogLines(/nylas_api_key_refused/).length;
            const resumed = b.workerLogLines(/nylas_api_key_accepted/).length;
            if (paused === 0) problems.push("no worker said the API key was refused");
            if (resumed === 0) problems.push("no worker said the API key works again");
            return {
              problems,
              figures: { "401s while refused": refused, "grants marked": marked, "paused logs": paused, resumed },
            };
          },
        },
      );
    },
  },
  {
    name: "hostile",
    title: "hostile data, malformed env and CLI input",
    run: async (ctx) => {
      const state = hostileBeforeSync(ctx.settings.seed);
      const batch = new Batch("hostile", ctx.settings, {
        beforeSync: (sb) => state.inject(sb),
        afterSync: (b) => hostileZones(b, state),
      });
      const inputs = hostileInputs(ctx.settings);
      return withBatch(
        "hostile",
        "hostile data",
        ctx,
        batch,
        // Unknown zones were written straight into the grant table after the sync (an old
        // row, a bad import); the events were planted before it.
        async () => ({}),
        {
          check: () => ({ mustBeSilent: state.badZoneGrants, refused: state.refusedKeys }),
          after: async (b) => {
            const data = await hostileCheck(b, state);
            const io = await inputs;
            return { problems: [...data.problems, ...io.problems], figures: { ...data.figures, ...io.figures } };
          },
        },
      );
    },
  },
];
