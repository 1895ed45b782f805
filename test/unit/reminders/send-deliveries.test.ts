import { NylasSdkTimeoutError } from "nylas";
import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../../src/nylas/client.js";
import type { GrantBudget } from "../../../src/nylas/grant-limiter.js";
import type { Claim, ClaimInput } from "../../../src/reminders/ledger.js";
import type { Meeting } from "../../../src/reminders/meeting.js";
import { sendReminders, type SendContext, type SendPorts } from "../../../src/reminders/send.js";
import { MARKER_HEADER, type SentQuery } from "../../../src/reminders/sent-check.js";

// The send protocol per message: a meeting whose guest list is hidden (or every meeting, with
// REMINDER_DELIVERY=individual) is one claim, one marker and one send per recipient. The
// ledger here is an in-memory one that keeps rows across runs, so a retry meets what the
// first run left.

const START = Date.parse("2026-11-24T09:30:00Z") / 1000;
const NOW = new Date("2026-11-23T18:00:00Z");
const ctx: SendContext = {
  grantId: "g1",
  day: "2026-11-24",
  email: "me@example.com",
  zone: "Europe/Berlin",
  concurrency: 4,
  minLeadSeconds: 15 * 60,
};

const GUESTS = ["Carol@Example.com", "amy@example.com", "bob@example.com"];

function meeting(eventId: string, emails: string[], over: Partial<Meeting> = {}): Meeting {
  return {
    eventId,
    start: START,
    end: START + 1800,
    title: `Meeting ${eventId}`,
    recipients: emails.map((email) => ({ email })),
    userIsOrganizer: true,
    recurring: false,
    ...over,
  };
}

interface Row {
  id: bigint;
  marker: string;
  status: "claimed" | "sent" | "failed" | "uncertain" | "skipped";
  released: boolean;
  attempts: number;
  composedAt?: Date;
  input: ClaimInput;
}

/** A ledger with the real one's states, keyed like its unique index (audience included). */
function memoryLedger() {
  const rows = new Map<string, Row>();
  const byId = (id: bigint) => [...rows.values()].find((r) => r.id === id)!;
  const keyOf = (i: ClaimInput) => [i.grantId, i.eventId, i.eventStart, i.audience].join("|");
  const ledger: SendPorts["ledger"] = {
    async claimMany(inputs, opts) {
      return inputs.map((input): Claim => {
        const row = rows.get(keyOf(input));
        if (!row) {
          const id = BigInt(rows.size + 1);
          const fresh: Row = { id, marker: `marker-${id}`, status: "claimed", released: false, attempts: 1, input };
          if (opts?.composedAt) fresh.composedAt = opts.composedAt;
          rows.set(keyOf(input), fresh);
          return { outcome: "claimed", id, marker: fresh.marker, attempts: 1, uncertain: false, ...opts };
        }
        if (row.status === "sent" || row.status === "uncertain" || row.status === "skipped")
          return { outcome: "done", status: row.status };
        if (row.status === "claimed" && !row.released) return { outcome: "busy", retryInMs: 60_000 };
        const uncertain = row.status === "claimed";
        if (!uncertain) {
          row.attempts++;
          if (opts?.composedAt) row.composedAt = opts.composedAt;
        }
        Object.assign(row, { status: "claimed", released: false });
        const at = row.composedAt ? { composedAt: row.composedAt } : {};
        return { outcome: "claimed", id: row.id, marker: row.marker, attempts: row.attempts, uncertain, ...at };
      });
    },
    async unclaim(claims) {
      for (const c of claims) byId(c.id).status = "failed";
    },
    async markSent(id) {
      byId(id).status = "sent";
    },
    async markFailed(id) {
      byId(id).status = "failed";
    },
    async release(id) {
      byId(id).released = true;
    },
    async markUncertain(id) {
      byId(id).status = "uncertain";
    },
    async markStarted(id) {
      byId(id).status = "skipped";
    },
  };
  return { ledger, rows };
}

/** One run's ports over a shared ledger; `fail` says which recipient's send times out. */
function attempt(ledger: SendPorts["ledger"], fail: (to: string) => boolean = () => false) {
  const sent: { message: OutgoingMessage; key: string }[] = [];
  const lookups: SentQuery[] = [];
  const budget: GrantBudget = { run: async (_kind, request) => request(), block: async (ms) => ms };
  const ports: SendPorts = {
    ledger,
    async send(message, key) {
      sent.push({ message, key });
      if (fail(message.to[0]!.email)) throw new NylasSdkTimeoutError("http://nylas/v3/grants/g1/messages/send", 30);
      return { id: `msg-${key}` };
    },
    async findSent(q) {
      lookups.push(q);
      return undefined;
    },
    budget,
    log: { info: () => {}, warn: () => {} },
    now: () => NOW,
  };
  return { ports, sent, lookups };
}

const markerOf = (m: OutgoingMessage) => m.customHeaders?.find((h) => h.name === MARKER_HEADER)?.value;

describe("sendReminders: one message per recipient", () => {
  it("sends a hidden guest list's 3 recipients 3 messages, each to one and under its own key; a retry sends none", async () => {
    const { ledger, rows } = memoryLedger();
    const first = attempt(ledger);
    const m = meeting("hidden", GUESTS, { hideParticipants: true });
    expect(await sendReminders([m], ctx, first.ports)).toEqual({ status: "done" });

    expect(first.sent.map((s) => s.message.to)).toEqual([
      [{ email: "amy@example.com" }],
      [{ email: "bob@example.com" }],
      [{ email: "Carol@Example.com" }],
    ]);
    const keys = first.sent.map((s) => s.key);
    expect(new Set(keys).size).toBe(3);
    for (const s of first.sent) expect(markerOf(s.message)).toBe(s.key);
    // The same wording for each: only the address differs.
    expect(new Set(first.sent.map((s) => s.message.subject)).size).toBe(1);
    expect([...rows.values()].map((r) => [r.input.audience, r.input.recipients, r.marker, r.status])).toEqual([
      ["amy@example.com", [{ email: "amy@example.com" }], keys[0], "sent"],
      ["bob@example.com", [{ email: "bob@example.com" }], keys[1], "sent"],
      ["carol@example.com", [{ email: "Carol@Example.com" }], keys[2], "sent"],
    ]);

    const retry = attempt(ledger);
    expect(await sendReminders([m], ctx, retry.ports)).toEqual({ status: "done" });
    expect(retry.sent).toEqual([]);
    expect(rows.size).toBe(3);
  });

  it("sends a meeting whose guests see each other one message to all, next to a hidden one", async () => {
    const { ledger, rows } = memoryLedger();
    const run = attempt(ledger);
    const open = meeting("open", ["x@example.com", "y@example.com"]);
    const hidden = meeting("hidden", ["z@example.com", "w@example.com"], { hideParticipants: true });
    expect(await sendReminders([open, hidden], ctx, run.ports)).toEqual({ status: "done" });
    expect(run.sent.map((s) => s.message.to.map((r) => r.email))).toEqual([
      ["x@example.com", "y@example.com"],
      ["w@example.com"],
      ["z@example.com"],
    ]);
    expect([...rows.values()].map((r) => [r.input.eventId, r.input.audience])).toEqual([
      ["open", ""],
      ["hidden", "w@example.com"],
      ["hidden", "z@example.com"],
    ]);
  });

  it("sends every meeting one message per recipient with delivery: individual", async () => {
    const { ledger } = memoryLedger();
    const run = attempt(ledger);
    const open = meeting("open", ["x@example.com", "y@example.com"]);
    expect(await sendReminders([open], { ...ctx, delivery: "individual" }, run.ports)).toEqual({ status: "done" });
    expect(run.sent.map((s) => s.message.to.map((r) => r.email))).toEqual([["x@example.com"], ["y@example.com"]]);
    expect(new Set(run.sent.map((s) => s.key)).size).toBe(2);
  });

  it("retries only the message whose send timed out: same key, same message, checked for that recipient", async () => {
    const { ledger, rows } = memoryLedger();
    const m = meeting("hidden", GUESTS, { hideParticipants: true });
    const first = attempt(ledger, (to) => to === "bob@example.com");
    const outcome = await sendReminders([m], ctx, first.ports);
    expect(outcome).toMatchObject({ status: "held", transient: true });
    const lost = first.sent.find((s) => s.message.to[0]!.email === "bob@example.com")!;

    const retry = attempt(ledger);
    expect(await sendReminders([m], ctx, retry.ports)).toEqual({ status: "done" });
    // The Sent folder is asked about bob's message only, by its marker and its one recipient.
    expect(retry.lookups).toEqual([
      {
        marker: lost.key,
        subject: lost.message.subject,
        recipients: [{ email: "bob@example.com" }],
        sinceUnix: NOW.getTime() / 1000 - 60,
      },
    ]);
    expect(retry.sent).toEqual([lost]);
    expect([...rows.values()].map((r) => r.status)).toEqual(["sent", "sent", "sent"]);
  });

  it("composes each message's unsubscribe link and headers for its own recipient only", async () => {
    const { ledger } = memoryLedger();
    const run = attempt(ledger);
    const asked: string[][] = [];
    const optOut = (recipients: readonly { email: string }[]) => {
      asked.push(recipients.map((r) => r.email));
      const url = `https://reminders.example/unsubscribe/${recipients.map((r) => r.email).join("+")}`;
      return { url, headers: [{ name: "List-Unsubscribe", value: `<${url}>` }] };
    };
    const m = meeting("hidden", GUESTS, { hideParticipants: true });
    expect(await sendReminders([m], { ...ctx, optOut }, run.ports)).toEqual({ status: "done" });
    expect(asked.sort()).toEqual(GUESTS.map((e) => [e]).sort());
    for (const { message } of run.sent) {
      const own = message.to[0]!.email;
      const whole = JSON.stringify(message);
      expect(whole).toContain(`/unsubscribe/${own}`);
      for (const other of GUESTS.filter((e) => e !== own)) expect(whole).not.toContain(other);
    }
  });

  it("counts a hidden guest list about to start as one started meeting, and sends none of its messages", async () => {
    const { ledger, rows } = memoryLedger();
    const run = attempt(ledger);
    const soon = meeting("soon", GUESTS, { hideParticipants: true, start: NOW.getTime() / 1000 + 5 * 60 });
    expect(await sendReminders([soon], ctx, run.ports)).toEqual({ status: "done", started: 1 });
    expect(run.sent).toEqual([]);
    expect([...rows.values()].map((r) => r.status)).toEqual(["skipped", "skipped", "skipped"]);
  });
});
