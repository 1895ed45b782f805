import { NylasApiError, NylasSdkTimeoutError } from "nylas";
import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../../src/nylas/client.js";
import { GrantBusy, type Budget, type GrantBudget } from "../../../src/nylas/grant-limiter.js";
import type { Claim, ClaimInput } from "../../../src/reminders/ledger.js";
import type { Meeting } from "../../../src/reminders/meeting.js";
import {
  CLAIM_CHUNK,
  sendReminders,
  type SendContext,
  type SendOutcome,
  type SendPorts,
} from "../../../src/reminders/send.js";
import { MARKER_HEADER, NoSentFolder, type SentQuery } from "../../../src/reminders/sent-check.js";
import { optOutComposer } from "../../../src/optout/message.js";

// The send protocol over fake ports: every outcome of every step (claim, Sent-folder
// check, send, mark), and what each leaves in the ledger, the limiter and the outbox.

const START = Date.parse("2026-11-24T09:30:00Z") / 1000;
const NOW = new Date("2026-11-23T18:00:00Z");
const ctx: SendContext = {
  grantId: "g1",
  day: "2026-11-24",
  email: "me@example.com",
  zone: "Europe/Berlin",
  concurrency: 4,
  minLeadSeconds: 900,
};

function meeting(n: number): Meeting {
  return {
    eventId: `ev${n}`,
    start: START + n * 60,
    end: START + n * 60 + 1800,
    title: `Meeting ${n}`,
    recipients: [{ email: `guest${n}@example.com`, name: `Guest ${n}` }],
    userIsOrganizer: true,
    recurring: false,
  };
}

const claimed = (n: number, uncertain = false, composedAt?: Date): Claim => ({
  outcome: "claimed",
  id: BigInt(n),
  marker: `marker-${n}`,
  attempts: 1,
  uncertain,
  ...(composedAt ? { composedAt } : {}),
});
/** An uncertain claim first made `minutes` before NOW. */
const claimedAgo = (minutes: number) => (n: number) => claimed(n, true, new Date(NOW.getTime() - minutes * 60_000));

function apiError(status: number, type: string, headers: Record<string, string> = {}) {
  return new NylasApiError(
    { requestId: "req-1", error: { type, message: "boom" } } as never,
    status,
    "req-1",
    undefined,
    headers,
  );
}
const ERR = {
  transient: () => apiError(503, "service_unavailable"),
  permanent: () => apiError(400, "invalid_request_error"),
  auth: () => apiError(401, "unauthorized"),
  rateLimited: () => apiError(429, "rate_limit_error", { "retry-after": "7" }),
  scope: () => apiError(403, "insufficient_scopes"),
  timeout: () => new NylasSdkTimeoutError("http://nylas/v3/grants/g1/messages/send", 30),
  database: () => new Error("Can't reach database server at 127.0.0.1:5432"),
  busy: () => new GrantBusy(5000, "budget of grant spent"),
  keyInFlight: () => apiError(409, "api.concurrent_idempotent_request"),
  keyMismatch: () => apiError(409, "api.invalid_idempotent_request"),
};

/** What each fake port does; every call is recorded in `calls`. */
interface Script {
  /** claimMany's answer per meeting (by index), or an error for the whole statement. */
  claims: (n: number) => Claim;
  claimError?: Error;
  /** The Sent folder: a message id, nothing, or an error. */
  sentCheck?: string | Error;
  /** The grant's provider offers no check to rely on (or its user refused mail read). */
  noSentCheck?: true;
  /** Budget per kind: an error thrown instead of taking a token (the request does not run). */
  noToken?: Partial<Record<Budget, Error>>;
  /** The send's answer (per meeting index): a message id, Nylas' kept answer to the key, or an error. */
  send?: (n: number) => string | Error | { id: string; replayed: boolean };
  markSentError?: Error;
}

function world(script: Script) {
  const calls: string[] = [];
  const sent: OutgoingMessage[] = [];
  const tokens: Budget[] = [];
  const settled: Budget[] = [];
  const blocks: number[] = [];
  const claimBatches: ClaimInput[][] = [];
  /** The Idempotency-Key of each send, in order. */
  const keys: string[] = [];
  /** The wording instant passed with each claim statement. */
  const composedAts: (Date | undefined)[] = [];
  const index = (id: bigint) => Number(id);
  const budget: GrantBudget = {
    async run(kind, request) {
      const refusal = script.noToken?.[kind];
      if (refusal) throw refusal;
      tokens.push(kind);
      try {
        return await request();
      } finally {
        settled.push(kind);
      }
    },
    async block(ms) {
      blocks.push(ms);
      return ms;
    },
  };
  const ports: SendPorts = {
    ledger: {
      async claimMany(inputs, opts) {
        claimBatches.push([...inputs]);
        composedAts.push(opts?.composedAt);
        if (script.claimError) throw script.claimError;
        return inputs.map((i) => script.claims(Number(i.eventId.slice(2))));
      },
      async unclaim(claims, why) {
        calls.push(`unclaim ${claims.map((c) => c.id).join(",")}: ${why}`);
      },
      async markSent(id, messageId) {
        calls.push(`markSent ${index(id)} ${messageId}`);
        if (script.markSentError) throw script.markSentError;
      },
      async markFailed(id, why, opts) {
        calls.push(
          `markFailed ${index(id)}${opts?.countAttempt === false ? " (not counted)" : ""}${opts?.final ? " (final)" : ""}: ${why}`,
        );
      },
      async release(id, why) {
        calls.push(`release ${index(id)}: ${why}`);
      },
      async markUncertain(id, why) {
        calls.push(`markUncertain ${index(id)}: ${why}`);
      },
      async markStarted(id) {
        calls.push(`markStarted ${index(id)}`);
      },
    },
    async send(message, idempotencyKey) {
      sent.push(message);
      keys.push(idempotencyKey);
      const n = Number(message.customHeaders?.[0]?.value.slice("marker-".length));
      const answer = script.send ? script.send(n) : `msg-${n}`;
      if (answer instanceof Error) throw answer;
      return typeof answer === "string" ? { id: answer } : answer;
    },
    ...(script.noSentCheck
      ? {}
      : {
          async findSent(q: SentQuery) {
            calls.push(`findSent ${q.marker} since ${q.sinceUnix}`);
            if (script.sentCheck instanceof Error) throw script.sentCheck;
            return script.sentCheck;
          },
        }),
    async sentCheckRefused(reason) {
      calls.push(`sentCheckRefused: ${reason}`);
    },
    budget,
    log: { info: () => {}, warn: () => {} },
    now: () => NOW,
  };
  return { ports, calls, sent, tokens, settled, blocks, claimBatches, keys, composedAts };
}

const ONE_WEEK = 7 * 86_400;

describe("sendReminders: one meeting, each step's outcomes", () => {
  // [case, script, outcome, sends, ledger and Sent-folder calls in order, blocks (ms)]
  const cases: [string, Script, SendOutcome | { status: "stopped"; error: string }, number, string[], number[]][] = [
    // claim
    [
      "claim refused: already sent or skipped",
      { claims: () => ({ outcome: "done", status: "sent" }) },
      { status: "done" },
      0,
      [],
      [],
    ],
    [
      "claim refused: attempts exhausted",
      { claims: () => ({ outcome: "exhausted", attempts: 5 }) },
      { status: "done" },
      0,
      [],
      [],
    ],
    [
      "claim refused: held by another attempt",
      { claims: () => ({ outcome: "busy", retryInMs: 4000 }) },
      { status: "held", retryInMs: 4000, reason: "reminder for ev1 is held by another attempt", transient: false },
      0,
      [],
      [],
    ],
    [
      "claim fails (database)",
      { claims: claimed, claimError: ERR.database() },
      { status: "stopped", error: "Can't reach database server at 127.0.0.1:5432" },
      0,
      [],
      [],
    ],
    // send and mark, on a fresh claim
    ["granted; send ok; mark ok", { claims: claimed }, { status: "done" }, 1, ["markSent 1 msg-1"], []],
    [
      "granted; send ok; mark fails",
      { claims: claimed, markSentError: ERR.database() },
      {
        status: "held",
        retryInMs: 0,
        reason: "sent, not recorded: transient Can't reach database server at 127.0.0.1:5432",
        transient: true,
      },
      1,
      ["markSent 1 msg-1", "release 1: sent, not recorded: transient Can't reach database server at 127.0.0.1:5432"],
      [],
    ],
    [
      "granted; send transient (503)",
      { claims: claimed, send: ERR.transient },
      {
        status: "held",
        retryInMs: 0,
        reason: "transient 503 service_unavailable boom request_id=req-1",
        transient: true,
      },
      1,
      ["release 1: transient 503 service_unavailable boom request_id=req-1"],
      [],
    ],
    [
      "granted; send timed out (outcome unknown)",
      { claims: claimed, send: ERR.timeout },
      { status: "held", retryInMs: 0, reason: expect.stringMatching(/^transient /), transient: true } as never,
      1,
      [expect.stringMatching(/^release 1: transient /)] as never,
      [],
    ],
    [
      "granted; send refused (400)",
      { claims: claimed, send: ERR.permanent },
      { status: "done" },
      1,
      ["markFailed 1: permanent 400 invalid_request_error boom request_id=req-1"],
      [],
    ],
    [
      "granted; send 401",
      { claims: claimed, send: ERR.auth },
      { status: "stopped", error: "boom" },
      1,
      ["markFailed 1 (not counted): auth 401 unauthorized boom request_id=req-1"],
      [],
    ],
    [
      "granted; send 429",
      { claims: claimed, send: ERR.rateLimited },
      { status: "stopped", error: "boom" },
      1,
      ["markFailed 1 (not counted): rate_limited 429 rate_limit_error boom request_id=req-1"],
      [7000],
    ],
    [
      "granted; no send token (budget spent)",
      { claims: claimed, noToken: { send: ERR.busy() } },
      { status: "stopped", error: "grant busy for 5000 ms (budget of grant spent)" },
      0,
      ["markFailed 1 (not counted): not sent: grant budget spent"],
      [],
    ],
    // the Sent-folder check, on a claim an earlier attempt left uncertain
    [
      "uncertain; found in Sent folder",
      { claims: (n) => claimed(n, true), sentCheck: "msg-earlier" },
      { status: "done" },
      0,
      [`findSent marker-1 since ${START + 60 - ONE_WEEK}`, "markSent 1 msg-earlier"],
      [],
    ],
    [
      "uncertain; not in Sent folder; send ok",
      { claims: (n) => claimed(n, true), sentCheck: undefined },
      { status: "done" },
      1,
      [`findSent marker-1 since ${START + 60 - ONE_WEEK}`, "markSent 1 msg-1"],
      [],
    ],
    [
      "uncertain; not in Sent folder; send timed out",
      { claims: (n) => claimed(n, true), send: ERR.timeout },
      { status: "held", retryInMs: 0, reason: expect.stringMatching(/^transient /), transient: true } as never,
      1,
      [`findSent marker-1 since ${START + 60 - ONE_WEEK}`, expect.stringMatching(/^release 1: transient /)] as never,
      [],
    ],
    [
      "uncertain; Sent-folder check fails (503)",
      { claims: (n) => claimed(n, true), sentCheck: ERR.transient() },
      { status: "stopped", error: "boom" },
      0,
      [
        `findSent marker-1 since ${START + 60 - ONE_WEEK}`,
        "release 1: Sent folder not checked: transient 503 service_unavailable boom request_id=req-1",
      ],
      [],
    ],
    [
      "uncertain; Sent-folder check gets a 429",
      { claims: (n) => claimed(n, true), sentCheck: ERR.rateLimited() },
      { status: "stopped", error: "boom" },
      0,
      [
        `findSent marker-1 since ${START + 60 - ONE_WEEK}`,
        "release 1: Sent folder not checked: rate_limited 429 rate_limit_error boom request_id=req-1",
      ],
      [7000],
    ],
    [
      "uncertain; no read token for the check",
      { claims: (n) => claimed(n, true), noToken: { read: ERR.busy() } },
      { status: "stopped", error: "grant busy for 5000 ms (budget of grant spent)" },
      0,
      ["release 1: Sent folder not checked: transient grant busy for 5000 ms (budget of grant spent)"],
      [],
    ],
    [
      "uncertain; the check searches from a minute before the first claim",
      { claims: claimedAgo(120), sentCheck: "msg-earlier" },
      { status: "done" },
      0,
      [`findSent marker-1 since ${NOW.getTime() / 1000 - 120 * 60 - 60}`, "markSent 1 msg-earlier"],
      [],
    ],
    [
      "uncertain; checked, not found, the key expired: sent (the check is relied on)",
      { claims: claimedAgo(120) },
      { status: "done" },
      1,
      [`findSent marker-1 since ${NOW.getTime() / 1000 - 120 * 60 - 60}`, "markSent 1 msg-1"],
      [],
    ],
    // no check to rely on (IMAP, iCloud, ...): Nylas' key within its hour, else at most once
    [
      "uncertain; no check; first claimed 10 min ago: sent again under the same key",
      { claims: claimedAgo(10), noSentCheck: true },
      { status: "done" },
      1,
      ["markSent 1 msg-1"],
      [],
    ],
    [
      "uncertain; no check; first claimed 49 min ago: still trusts the key",
      { claims: claimedAgo(49), noSentCheck: true },
      { status: "done" },
      1,
      ["markSent 1 msg-1"],
      [],
    ],
    [
      "uncertain; no check; first claimed 51 min ago: recorded uncertain, not sent",
      { claims: claimedAgo(51), noSentCheck: true },
      { status: "done" },
      0,
      [expect.stringMatching(/^markUncertain 1: uncertain: .*Idempotency-Key has expired/)] as never,
      [],
    ],
    [
      "uncertain; no check; a row from before the wording instant was kept: recorded uncertain",
      { claims: (n) => claimed(n, true), noSentCheck: true },
      { status: "done" },
      0,
      [expect.stringMatching(/^markUncertain 1: /)] as never,
      [],
    ],
    [
      "uncertain; mail read refused (403) within the key's hour: check turned off, sent under the key",
      { claims: claimedAgo(5), sentCheck: ERR.scope() },
      { status: "done" },
      1,
      [
        `findSent marker-1 since ${NOW.getTime() / 1000 - 5 * 60 - 60}`,
        "sentCheckRefused: Sent check refused: scope 403 insufficient_scopes boom request_id=req-1",
        "markSent 1 msg-1",
      ],
      [],
    ],
    [
      "uncertain; mail read refused (403) past the key's hour: check turned off, recorded uncertain",
      { claims: claimedAgo(90), sentCheck: ERR.scope() },
      { status: "done" },
      0,
      [
        `findSent marker-1 since ${NOW.getTime() / 1000 - 90 * 60 - 60}`,
        "sentCheckRefused: Sent check refused: scope 403 insufficient_scopes boom request_id=req-1",
        expect.stringMatching(/^markUncertain 1: /),
      ] as never,
      [],
    ],
    [
      "uncertain; no folder marked \\Sent past the key's hour: recorded uncertain",
      { claims: claimedAgo(90), sentCheck: new NoSentFolder() },
      { status: "done" },
      0,
      [
        `findSent marker-1 since ${NOW.getTime() / 1000 - 90 * 60 - 60}`,
        "sentCheckRefused: Sent check refused: the mailbox has no folder with the \\Sent attribute",
        expect.stringMatching(/^markUncertain 1: /),
      ] as never,
      [],
    ],
    [
      "send refused for a missing scope (403): stops the job, costs no attempt",
      { claims: claimed, send: ERR.scope },
      { status: "stopped", error: "boom" },
      1,
      ["markFailed 1 (not counted): scope 403 insufficient_scopes boom request_id=req-1"],
      [],
    ],
  ];

  it.each(cases)("%s", async (_name, script, expected, sends, calls, blocks) => {
    const w = world(script);
    const outcome = await sendReminders([meeting(1)], ctx, w.ports);
    if (expected.status === "stopped") {
      expect(outcome.status).toBe("stopped");
      expect((outcome as { error: Error }).error.message).toBe(expected.error);
    } else {
      expect(outcome).toEqual(expected);
    }
    expect(w.sent).toHaveLength(sends);
    expect(w.calls).toEqual(calls);
    expect(w.blocks).toEqual(blocks);
    // Every token taken is settled, whatever the request did.
    expect(w.settled).toEqual(w.tokens);
  });
});

describe("sendReminders: across meetings", () => {
  it("composes the reminder as the grant, with the claim's marker, under the send budget; the check under the read budget", async () => {
    const w = world({ claims: (n) => claimed(n, true) });
    await sendReminders([meeting(1)], ctx, w.ports);
    expect(w.tokens).toEqual(["read", "send"]);
    expect(w.sent).toHaveLength(1);
    const message = w.sent[0]!;
    expect(message.to).toEqual([{ email: "guest1@example.com", name: "Guest 1" }]);
    expect(message.subject).toContain("Meeting 1");
    expect(message.body).toContain("Meeting 1");
    expect(message.customHeaders).toEqual([{ name: MARKER_HEADER, value: "marker-1" }]);
  });

  it("composes in the grant's locale, and the same message again on a retry", async () => {
    const first = world({ claims: claimed, send: ERR.timeout });
    await sendReminders([meeting(1)], { ...ctx, locale: "de" }, first.ports);
    expect(first.sent[0]!.subject).toMatch(/^Erinnerung: Meeting 1 morgen um /);
    const retry = world({ claims: (n) => ({ ...claimed(n, true), composedAt: NOW }) });
    await sendReminders([meeting(1)], { ...ctx, locale: "de" }, retry.ports);
    expect(retry.sent).toEqual(first.sent);
  });

  it("claims a long day a slice at a time, with the run's grant and day", async () => {
    const w = world({ claims: claimed });
    const meetings = Array.from({ length: CLAIM_CHUNK + 5 }, (_, i) => meeting(i + 1));
    expect(await sendReminders(meetings, ctx, w.ports)).toEqual({ status: "done" });
    expect(w.claimBatches.map((b) => b.length)).toEqual([CLAIM_CHUNK, 5]);
    expect(w.claimBatches[0]![0]).toEqual({
      grantId: "g1",
      eventId: "ev1",
      eventStart: START + 60,
      day: "2026-11-24",
      title: "Meeting 1",
      recipients: meeting(1).recipients,
      audience: "",
    });
    expect(w.sent).toHaveLength(CLAIM_CHUNK + 5);
  });

  it("a 401 stops the meetings still queued and hands their claims back; nothing after it is sent", async () => {
    const w = world({ claims: claimed, send: (n) => (n === 2 ? ERR.auth() : `msg-${n}`) });
    const outcome = await sendReminders([1, 2, 3, 4].map(meeting), { ...ctx, concurrency: 1 }, w.ports);
    expect(outcome.status).toBe("stopped");
    expect(w.sent.map((m) => m.customHeaders?.[0]?.value)).toEqual(["marker-1", "marker-2"]);
    expect(w.calls).toEqual([
      "markSent 1 msg-1",
      "markFailed 2 (not counted): auth 401 unauthorized boom request_id=req-1",
      "unclaim 3,4: not sent: the run stopped before this reminder",
    ]);
    expect(w.claimBatches).toHaveLength(1);
  });

  it("a stop in one slice claims no later slice", async () => {
    const w = world({ claims: claimed, send: (n) => (n === 1 ? ERR.rateLimited() : `msg-${n}`) });
    const outcome = await sendReminders(
      Array.from({ length: CLAIM_CHUNK + 1 }, (_, i) => meeting(i + 1)),
      { ...ctx, concurrency: 1 },
      w.ports,
    );
    expect(outcome.status).toBe("stopped");
    expect(w.claimBatches).toHaveLength(1);
    expect(w.sent).toHaveLength(1);
    expect(w.blocks).toEqual([7000]);
  });

  it("every mark is written before the outcome, also when the job stops", async () => {
    const w = world({ claims: claimed, send: (n) => (n === 2 ? ERR.auth() : `msg-${n}`) });
    let release!: () => void;
    const slowMark = new Promise<void>((resolve) => (release = resolve));
    const markSent = w.ports.ledger.markSent;
    let marked = false;
    w.ports.ledger.markSent = async (id, messageId) => {
      await slowMark;
      await markSent(id, messageId);
      marked = true;
    };
    const pending = sendReminders([1, 2].map(meeting), { ...ctx, concurrency: 1 }, w.ports);
    setTimeout(release, 20);
    expect((await pending).status).toBe("stopped");
    expect(marked).toBe(true);
  });

  it("holds add up: the longest wait, the last reason, transient if any was", async () => {
    const claims: Record<number, Claim> = {
      1: { outcome: "busy", retryInMs: 9000 },
      2: claimed(2),
      3: { outcome: "busy", retryInMs: 3000 },
    };
    const w = world({ claims: (n) => claims[n]!, send: () => ERR.transient() });
    const outcome = await sendReminders([1, 2, 3].map(meeting), { ...ctx, concurrency: 1 }, w.ports);
    expect(outcome).toEqual({
      status: "held",
      retryInMs: 9000,
      reason: "reminder for ev3 is held by another attempt",
      transient: true,
    });
  });

  it("refused and sent reminders side by side: the others still go out", async () => {
    const w = world({ claims: claimed, send: (n) => (n === 2 ? ERR.permanent() : `msg-${n}`) });
    expect(await sendReminders([1, 2, 3].map(meeting), ctx, w.ports)).toEqual({ status: "done" });
    expect(w.calls.sort()).toEqual([
      "markFailed 2: permanent 400 invalid_request_error boom request_id=req-1",
      "markSent 1 msg-1",
      "markSent 3 msg-3",
    ]);
  });

  it("no meetings: nothing is claimed", async () => {
    const w = world({ claims: claimed });
    expect(await sendReminders([], ctx, w.ports)).toEqual({ status: "done" });
    expect(w.claimBatches).toHaveLength(0);
  });
});

describe("sendReminders: the Idempotency-Key", () => {
  const MISMATCH_NOTE = "(never sent again: an earlier send under this reminder's Idempotency-Key may have gone out)";
  // [case, script, outcome, ledger and Sent-folder calls in order]; every send's key is the
  // claim's marker.
  const cases: [string, Script, SendOutcome, string[]][] = [
    ["first send", { claims: claimed }, { status: "done" }, ["markSent 1 msg-1"]],
    [
      "retry of an uncertain claim, not found in the Sent folder",
      { claims: (n) => claimed(n, true) },
      { status: "done" },
      [`findSent marker-1 since ${START + 60 - ONE_WEEK}`, "markSent 1 msg-1"],
    ],
    [
      "retry answered with Nylas' kept answer (Idempotent-Response): marked sent with the first message's id",
      { claims: (n) => claimed(n, true), send: () => ({ id: "msg-first", replayed: true }) },
      { status: "done" },
      [`findSent marker-1 since ${START + 60 - ONE_WEEK}`, "markSent 1 msg-first"],
    ],
    [
      "409 api.concurrent_idempotent_request: the first request is in flight, outcome unknown",
      { claims: claimed, send: ERR.keyInFlight },
      {
        status: "held",
        retryInMs: 0,
        reason: "transient 409 api.concurrent_idempotent_request boom request_id=req-1",
        transient: true,
      },
      ["release 1: transient 409 api.concurrent_idempotent_request boom request_id=req-1"],
    ],
    [
      "409 api.concurrent_idempotent_request on a retry",
      { claims: (n) => claimed(n, true), send: ERR.keyInFlight },
      {
        status: "held",
        retryInMs: 0,
        reason: "transient 409 api.concurrent_idempotent_request boom request_id=req-1",
        transient: true,
      },
      [
        `findSent marker-1 since ${START + 60 - ONE_WEEK}`,
        "release 1: transient 409 api.concurrent_idempotent_request boom request_id=req-1",
      ],
    ],
    [
      "409 api.invalid_idempotent_request: closed for good, never sent again",
      { claims: claimed, send: ERR.keyMismatch },
      { status: "done" },
      [`markFailed 1 (final): permanent 409 api.invalid_idempotent_request boom request_id=req-1 ${MISMATCH_NOTE}`],
    ],
    [
      "409 api.invalid_idempotent_request on a retry",
      { claims: (n) => claimed(n, true), send: ERR.keyMismatch },
      { status: "done" },
      [
        `findSent marker-1 since ${START + 60 - ONE_WEEK}`,
        `markFailed 1 (final): permanent 409 api.invalid_idempotent_request boom request_id=req-1 ${MISMATCH_NOTE}`,
      ],
    ],
  ];

  it.each(cases)("%s", async (_name, script, expected, calls) => {
    const w = world(script);
    expect(await sendReminders([meeting(1)], ctx, w.ports)).toEqual(expected);
    expect(w.keys).toEqual(["marker-1"]);
    expect(w.calls).toEqual(calls);
  });

  it("every send of a day carries its own claim's marker as the key", async () => {
    const w = world({ claims: claimed });
    await sendReminders([1, 2, 3].map(meeting), ctx, w.ports);
    expect([...w.keys].sort()).toEqual(["marker-1", "marker-2", "marker-3"]);
    expect(w.sent.map((m) => m.customHeaders?.[0]?.value).sort()).toEqual(w.keys.sort());
  });

  it("a retry sends the same payload under the same key, even after the grant's midnight", async () => {
    // First attempt at 23:50 in Berlin: "tomorrow". The send times out (it may have gone out).
    const first = world({ claims: claimed, send: ERR.timeout });
    first.ports.now = () => new Date("2026-11-23T22:50:00Z");
    await sendReminders([meeting(1)], ctx, first.ports);
    expect(first.composedAts).toEqual([new Date("2026-11-23T22:50:00Z")]);
    // The retry, at 00:10 on the meeting's day, takes over the uncertain claim; the ledger
    // hands back the first attempt's wording instant with it.
    const retry = world({ claims: (n) => ({ ...claimed(n, true), composedAt: first.composedAts[0]! }) });
    retry.ports.now = () => new Date("2026-11-23T23:10:00Z");
    await sendReminders([meeting(1)], ctx, retry.ports);
    expect(retry.sent).toEqual(first.sent);
    expect(retry.keys).toEqual(first.keys);
    expect(retry.sent[0]!.subject).toMatch(/ tomorrow at /);
    // Without a kept instant (a row from before it was recorded) the wording follows the clock.
    const old = world({ claims: (n) => claimed(n, true) });
    old.ports.now = () => new Date("2026-11-23T23:10:00Z");
    await sendReminders([meeting(1)], ctx, old.ports);
    expect(old.sent[0]!.subject).toMatch(/ today at /);
  });

  it("with unsubscribe: the link in the body and the headers after the marker, the same payload on a retry", async () => {
    const settings = { secret: "unsubscribe-secret-for-tests-0123", publicUrl: "https://r.example.com" };
    const withOptOut = { ...ctx, optOut: optOutComposer(settings, "google", ctx.email) };
    const first = world({ claims: claimed, send: ERR.timeout });
    await sendReminders([meeting(1)], withOptOut, first.ports);
    const [message] = first.sent;
    expect(message!.customHeaders?.map((h) => h.name)).toEqual([
      MARKER_HEADER,
      "List-Unsubscribe",
      "List-Unsubscribe-Post",
    ]);
    const url = /^<(.+)>$/.exec(message!.customHeaders![1]!.value)![1]!;
    expect(url.startsWith("https://r.example.com/unsubscribe/")).toBe(true);
    expect(message!.body).toContain(`<a href="${url}">Unsubscribe</a>`);
    const retry = world({ claims: (n) => ({ ...claimed(n, true), composedAt: first.composedAts[0]! }) });
    await sendReminders([meeting(1)], withOptOut, retry.ports);
    expect(retry.sent).toEqual(first.sent);
  });
});

describe("sendReminders: nothing reaches Nylas after the answer that stops the job", () => {
  it("sends that waited for their token while a send met a 401 are not sent and are handed back", async () => {
    const w = world({ claims: claimed, send: (n) => (n === 1 ? ERR.auth() : `msg-${n}`) });
    // A serial send budget: one send at a time, the next one only after the previous answered.
    let queue = Promise.resolve();
    const serial: GrantBudget = {
      run: (kind, request) => {
        const turn = queue.then(() => request());
        queue = turn.then(
          () => {},
          () => {},
        );
        return turn;
      },
      block: async (ms) => ms,
    };
    const outcome = await sendReminders(
      [1, 2, 3].map(meeting),
      { ...ctx, concurrency: 3 },
      { ...w.ports, budget: serial },
    );
    expect(outcome.status).toBe("stopped");
    expect(w.sent.map((m) => m.customHeaders?.[0]?.value)).toEqual(["marker-1"]);
    expect(w.calls).toEqual([
      "markFailed 1 (not counted): auth 401 unauthorized boom request_id=req-1",
      "markFailed 2 (not counted): not sent: the run stopped before this reminder",
      "markFailed 3 (not counted): not sent: the run stopped before this reminder",
    ]);
  });
});

describe("sendReminders: never stale (the lead re-checked right before each send)", () => {
  const nowS = NOW.getTime() / 1000;
  const at = (n: number, start: number): Meeting => ({ ...meeting(n), start, end: start + 1800 });

  it("a meeting starting within the lead is closed as started, unsent; exactly the lead away is sent", async () => {
    const w = world({ claims: claimed });
    const outcome = await sendReminders(
      [at(1, nowS + 899), at(2, nowS + 900), at(3, nowS - 60)],
      { ...ctx, concurrency: 1 },
      w.ports,
    );
    expect(outcome).toEqual({ status: "done", started: 2 });
    expect(w.sent.map((m) => m.customHeaders?.[0]?.value)).toEqual(["marker-2"]);
    expect(w.calls).toEqual(["markStarted 1", "markSent 2 msg-2", "markStarted 3"]);
    expect(w.settled).toEqual(w.tokens);
  });

  it("a meeting that became too late while waiting for the send budget is not sent", async () => {
    const w = world({ claims: claimed });
    let now = NOW;
    w.ports.now = () => now;
    const run = w.ports.budget.run;
    // The token comes ten minutes later: the meeting, 20 minutes away at the claim, is now 10 away.
    w.ports.budget.run = (kind, request) => {
      now = new Date(now.getTime() + 10 * 60_000);
      return run(kind, request);
    };
    const outcome = await sendReminders([at(1, nowS + 20 * 60)], ctx, w.ports);
    expect(outcome).toEqual({ status: "done", started: 1 });
    expect(w.sent).toHaveLength(0);
    expect(w.calls).toEqual(["markStarted 1"]);
  });

  it("a lead of 0 still never reminds of a meeting that already began", async () => {
    const w = world({ claims: claimed });
    const outcome = await sendReminders([at(1, nowS - 1), at(2, nowS)], { ...ctx, minLeadSeconds: 0 }, w.ports);
    expect(outcome).toEqual({ status: "done", started: 1 });
    expect(w.calls.sort()).toEqual(["markSent 2 msg-2", "markStarted 1"]);
  });

  it("the started count rides along with a hold", async () => {
    const claims: Record<number, Claim> = { 1: { outcome: "busy", retryInMs: 2000 }, 2: claimed(2) };
    const w = world({ claims: (n) => claims[n]! });
    const outcome = await sendReminders([at(1, nowS + 3600), at(2, nowS + 60)], ctx, w.ports);
    expect(outcome).toEqual({
      status: "held",
      retryInMs: 2000,
      reason: "reminder for ev1 is held by another attempt",
      transient: false,
      started: 1,
    });
  });
});
