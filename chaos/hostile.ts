/**
 * Scenario 7: hostile data. Events the sandbox would never accept through its API are put
 * straight into its calendar index (as a misbehaving provider might return them); a few grant
 * rows get time zones nobody knows; and the worker and the CLIs get malformed environment
 * and arguments. Each bad item must get a clear error of its own while the rest completes.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  addDays,
  localDate,
  profileOf,
  startOfLocalDay,
  type EventRecord,
  type Sandbox,
  type WireEvent,
} from "nylas-sandbox";
import type { Batch, ChaosSettings } from "./batch.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** Malformed events per hostile grant: each must be skipped as `malformed`. */
const MALFORMED: { tag: string; patch: (s: number) => Partial<Record<keyof WireEvent, unknown>> }[] = [
  { tag: "no-when", patch: () => ({ when: undefined }) },
  {
    tag: "string-time",
    patch: () => ({ when: { object: "timespan", start_time: "tomorrow at ten", end_time: "later" } }),
  },
  { tag: "end-before-start", patch: (s) => ({ when: { object: "timespan", start_time: s, end_time: s - 3600 } }) },
  { tag: "unknown-when", patch: (s) => ({ when: { object: "sometime", around: s } }) },
  { tag: "absurd-time", patch: () => ({ when: { object: "timespan", start_time: 1e15, end_time: 1e15 + 60 } }) },
  { tag: "bad-date", patch: () => ({ when: { object: "date", date: "2026-13-45" } }) },
  { tag: "participants-string", patch: () => ({ participants: "everyone in the building" }) },
  {
    tag: "unusable-emails",
    patch: () => ({
      participants: [
        { email: 42 },
        { email: "not-an-email" },
        null,
        { email: "a@b.test\r\nBcc: spy@evil.test", status: "yes" },
      ],
    }),
  },
  { tag: "no-id", patch: () => ({ id: undefined }) },
];

export const HTML_TITLE =
  '<script>alert("x")</script><img src=x onerror=alert(1)> Q3\u0000\u0007 review\r\nBcc: spy@evil.test';

export interface HostileState {
  inject(sb: Sandbox): void;
  /** Grants with malformed events, and how many each has. */
  malformed: Map<string, number>;
  /** Grants whose row gets an unknown zone: nothing may be scheduled or sent for them. */
  badZoneGrants: Set<string>;
  badZones: string[];
  /** Reminder keys the provider refuses (too many recipients): a clear per-item error. */
  refusedKeys: Set<string>;
  htmlKeys: Set<string>;
  longTitleKeys: Set<string>;
  absurdEndKeys: Set<string>;
  surrogateKeys: Set<string>;
}

export function hostileBeforeSync(seed: number): HostileState {
  const state: HostileState = {
    malformed: new Map(),
    badZoneGrants: new Set(),
    badZones: ["Mars/Olympus_Mons", "Europe/Atlantis", "UTC+25:00"],
    refusedKeys: new Set(),
    htmlKeys: new Set(),
    longTitleKeys: new Set(),
    absurdEndKeys: new Set(),
    surrogateKeys: new Set(),
    inject(sb) {
      // Grants with calendars (Nylas has none for IMAP): hostile events need one.
      const valid = sb
        .grantIds()
        .filter((id) => sb.grant(id).grant_status === "valid" && profileOf(sb.grant(id).provider).calendars);
      const hostile = valid.filter((_, i) => i % 20 === seed % 20);
      const bad = valid.filter((_, i) => i % 20 === (seed + 10) % 20).slice(0, state.badZones.length);
      for (const id of bad) state.badZoneGrants.add(id);
      let n = 0;
      for (const grantId of hostile) {
        const g = sb.store.requireGrant(grantId);
        const cal = g.calendars.get(g.primaryCalendarId)!;
        const day = addDays(localDate(g.zone, Date.now()), 1);
        const base = Math.floor(startOfLocalDay(g.zone, day) / 1000) + 10 * 3600 + 7;
        const me = { email: g.grant.email, status: "yes" };
        const guest = (tag: string) => ({ email: `guest.${tag}.${n}@hostile.test`, status: "yes" });
        const add = (
          tag: string,
          ev: Partial<Record<keyof WireEvent, unknown>>,
          s: number,
          e: number,
          expected: EventRecord["expected"],
        ) => {
          const id = `hostile${String(n++).padStart(5, "0")}${tag.replace(/[^a-z]/g, "")}`;
          const full = {
            id,
            object: "event",
            grant_id: grantId,
            calendar_id: cal.wire.id,
            title: `Hostile ${tag}`,
            description: null,
            location: null,
            when: { object: "timespan", start_time: s, end_time: e },
            participants: [me, guest(tag)],
            organizer: { email: g.grant.email },
            busy: true,
            status: "confirmed",
            ical_uid: `${id}@sandbox.nylas`,
            read_only: false,
            created_at: base - 86_400,
            updated_at: base - 86_400,
            ...ev,
          } as unknown as WireEvent;
          const rec: EventRecord = { ev: full, s, e };
          if (expected) rec.expected = expected;
          cal.index.appendUnsorted(rec);
          return { id, key: `${grantId}|${id}|${s}` };
        };
        for (const [i, m] of MALFORMED.entries()) {
          const s = base + i * 60;
          add(m.tag, m.patch(s), s, s + 1800, { remind: false, recipients: [], note: `malformed: ${m.tag}` });
        }
        state.malformed.set(grantId, MALFORMED.length);

        // Hostile but valid: each must get its reminder, made safe.
        const s1 = base + 3600;
        const g1 = guest("html");
        state.htmlKeys.add(
          add("html", { title: HTML_TITLE, participants: [me, g1] }, s1, s1 + 1800, {
            remind: true,
            recipients: [g1.email],
          }).key,
        );
        const s2 = base + 3660;
        const g2 = guest("long");
        const long = `${"Quarterly planning 🗓️ with everyone ".repeat(3000)}end`;
        state.longTitleKeys.add(
          add("long", { title: long, participants: [me, g2] }, s2, s2 + 1800, { remind: true, recipients: [g2.email] })
            .key,
        );
        const s3 = base + 3720;
        const g3 = guest("forever");
        const forever = s3 + 200 * 365 * 86_400;
        state.absurdEndKeys.add(
          add(
            "forever",
            { when: { object: "timespan", start_time: s3, end_time: forever }, participants: [me, g3] },
            s3,
            forever,
            { remind: true, recipients: [g3.email] },
          ).key,
        );
        // Lone UTF-16 surrogates in the title and a guest's name (JSON escapes Postgres
        // refuses): reminded, with U+FFFD in their place, and the grant's other claims unharmed.
        const s5 = base + 3840;
        const g5 = { ...guest("surrogate"), name: "Gu\ud800est \ud83d\ude00" };
        state.surrogateKeys.add(
          add("surrogate", { title: "Plan\udc00ning", participants: [me, g5] }, s5, s5 + 1800, {
            remind: true,
            recipients: [g5.email],
          }).key,
        );
        // Thousands of participants: far over the recipient cap (and what a provider takes).
        const s4 = base + 3780;
        const crowd = Array.from({ length: 3000 }, (_, j) => ({
          email: `crowd${j}.${n}@crowd.test`,
          status: "noreply",
        }));
        state.refusedKeys.add(
          add("crowd", { participants: [me, ...crowd] }, s4, s4 + 3600, {
            remind: true,
            recipients: crowd.map((c) => c.email).sort(),
          }).key,
        );
        cal.index.sortSingles();
      }
    },
  };
  return state;
}

/** After the sync, before the first tick: unknown zones in the grant table. */
export async function hostileZones(b: Batch, state: HostileState): Promise<void> {
  const ids = [...state.badZoneGrants];
  for (const [i, id] of ids.entries())
    await b.db.grant.update({ where: { id }, data: { timeZone: state.badZones[i % state.badZones.length]! } });
}

export async function hostileCheck(
  b: Batch,
  state: HostileState,
): Promise<{ problems: string[]; figures: Record<string, string | number> }> {
  const problems: string[] = [];
  // Malformed events: each counted as malformed on its grant's run; the run completed.
  const runs = await b.db.run.findMany({
    where: { grantId: { in: [...state.malformed.keys()] } },
    select: { grantId: true, status: true, skippedByReason: true },
  });
  let malformedSeen = 0;
  for (const [grantId, want] of state.malformed) {
    const run = runs.find((r) => r.grantId === grantId);
    const got = ((run?.skippedByReason ?? {}) as Record<string, number>).malformed ?? 0;
    malformedSeen += got;
    if (!run || run.status !== "completed")
      problems.push(`hostile grant ${grantId}: run ${run?.status ?? "missing"}, expected completed`);
    else if (got !== want)
      problems.push(`hostile grant ${grantId}: ${got} event(s) counted malformed, expected ${want}`);
  }
  const workerProblems = b.workerLogLines(/event skipped: /).length;

  // Titles: escaped in the body, one clean line in the subject, bounded length.
  const messages = new Map<string, { subject: string; body: string }>();
  const ledger = await b.db.reminder.findMany({
    where: { grantId: { in: [...state.malformed.keys()] } },
    select: { grantId: true, eventId: true, eventStart: true, marker: true, status: true, lastError: true },
  });
  const byMarker = new Map(
    ledger.map((l) => [l.marker, `${l.grantId}|${l.eventId}|${Math.floor(l.eventStart.getTime() / 1000)}`]),
  );
  for (const grantId of state.malformed.keys()) {
    for (const rec of b.sandbox.store.requireGrant(grantId).messages) {
      const marker = rec.custom.find((h) => h.name.toLowerCase() === "x-reminder-id")?.value;
      const key = marker ? byMarker.get(marker) : undefined;
      if (key)
        messages.set(key, {
          subject: rec.msg.subject,
          body: String((rec.msg as unknown as { body?: string }).body ?? ""),
        });
    }
  }
  for (const key of state.htmlKeys) {
    const m = messages.get(key);
    if (!m) continue; // counted as missing by the delivery check
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(m.subject)) problems.push(`control characters in the subject of ${key}`);
    if (/<script|<img/i.test(m.body)) problems.push(`unescaped HTML from the title in the body of ${key}`);
    if (!/review/.test(m.subject)) problems.push(`title text lost from the subject of ${key}`);
  }
  for (const key of state.longTitleKeys) {
    const m = messages.get(key);
    if (m && m.subject.length > 200) problems.push(`subject of ${key} is ${m.subject.length} characters long`);
  }
  for (const key of state.surrogateKeys) {
    const m = messages.get(key);
    if (m && !m.subject.includes("Plan\ufffdning")) problems.push(`lone surrogate not shown as U+FFFD in ${key}`);
  }
  // Thousands of participants: over the recipient cap, so never claimed and never sent (the
  // provider would refuse such a message anyway).
  let capped = 0;
  for (const key of state.refusedKeys) {
    const row = ledger.find((l) => `${l.grantId}|${l.eventId}|${Math.floor(l.eventStart.getTime() / 1000)}` === key);
    if (row) problems.push(`3000-participant meeting ${key}: a ledger row (${row.status}), expected none`);
    else capped++;
  }
  const toCrowd = b.sandbox.sentMessages().filter((m) => m.to.some((e) => e.endsWith("@crowd.test"))).length;
  if (toCrowd) problems.push(`${toCrowd} message(s) to a 3000-participant meeting's crowd`);
  // Unknown zones: not scheduled, counted, and logged by zone.
  const badZone = b.lastTick?.badZone ?? 0;
  if (badZone !== state.badZoneGrants.size)
    problems.push(`scheduler counted ${badZone} grant(s) with an unknown zone, expected ${state.badZoneGrants.size}`);
  await new Promise((r) => setTimeout(r, 300));
  const runnerLog = readFileSync(join(b.settings.logDir, `${b.name}-runner.log`), "utf8");
  for (const zone of state.badZones.slice(0, state.badZoneGrants.size)) {
    if (!runnerLog.includes(JSON.stringify(zone)) || !/unknown time zone/.test(runnerLog))
      problems.push(`no clear error logged for the unknown zone ${zone}`);
  }
  const badZoneRuns = await b.db.run.count({ where: { grantId: { in: [...state.badZoneGrants] } } });
  if (badZoneRuns) problems.push(`${badZoneRuns} run(s) created for grants with an unknown zone`);
  return {
    problems,
    figures: {
      "hostile grants": state.malformed.size,
      "malformed skipped": malformedSeen,
      "skip warnings": workerProblems,
      "capped (3000 guests)": capped,
      "bad-zone grants": badZone,
    },
  };
}

interface ProcCase {
  label: string;
  cmd: string[];
  env: Record<string, string | undefined>;
  /** What the one error line must mention. */
  expect: RegExp;
  /** Text that must never appear in the output (a secret). */
  secret?: string;
  /** npm prints its own lines: only the program's line is judged. */
  linePrefix?: string;
}

const WORKER = ["node", "--import", "tsx", "jobs/worker.ts"];

function cases(settings: ChaosSettings): ProcCase[] {
  const base = {
    NYLAS_API_KEY: "nyk_chaos_secret_value",
    DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/chaos_never_used",
    REDIS_URL: settings.redisUrl,
    QUEUE_PREFIX: "chaos_env",
  };
  const worker = (
    label: string,
    env: Record<string, string | undefined>,
    expect: RegExp,
    secret?: string,
  ): ProcCase => ({ label, cmd: WORKER, env: { ...base, ...env }, expect, ...(secret ? { secret } : {}) });
  return [
    worker(
      "WORKER_CONCURRENCY=abc",
      { WORKER_CONCURRENCY: "abc" },
      /^worker: Invalid configuration: WORKER_CONCURRENCY must be a whole number$/,
    ),
    worker("WORKER_CONCURRENCY=0", { WORKER_CONCURRENCY: "0" }, /WORKER_CONCURRENCY must be a number >= 1/),
    worker("JOB_ATTEMPTS=1e3", { JOB_ATTEMPTS: "1e3" }, /JOB_ATTEMPTS must be a whole number/),
    worker("NYLAS_TIMEOUT_S=-5", { NYLAS_TIMEOUT_S: "-5" }, /NYLAS_TIMEOUT_S must be a number >= 1/),
    worker("RATE_SENDS_PER_SEC=fast", { RATE_SENDS_PER_SEC: "fast" }, /RATE_SENDS_PER_SEC must be a number/),
    worker("REDIS_URL without scheme", { REDIS_URL: "localhost:6379" }, /REDIS_URL must be a URL/),
    worker(
      "DATABASE_URL=mysql://…",
      { DATABASE_URL: "mysql://root:hunter2secret@db.internal/app" },
      /DATABASE_URL must be a URL/,
      "hunter2secret",
    ),
    worker("DATABASE_URL unset", { DATABASE_URL: undefined }, /DATABASE_URL is required/),
    worker("NYLAS_API_KEY unset", { NYLAS_API_KEY: undefined }, /NYLAS_API_KEY is required/),
    worker(
      "LOG_LEVEL=loud, QUEUE_PREFIX=a:b",
      { LOG_LEVEL: "loud", QUEUE_PREFIX: "a:b" },
      /LOG_LEVEL must be one of .*; QUEUE_PREFIX must be letters/,
    ),
    {
      label: "npm run demo -- --grants abc",
      cmd: ["npm", "run", "--silent", "demo", "--", "--grants", "abc"],
      env: {},
      expect: /^demo: --grants must be a whole number/,
      linePrefix: "demo:",
    },
    {
      label: "demo --grants 0",
      cmd: ["node", "--import", "tsx", "demo/main.ts", "--grants", "0"],
      env: {},
      expect: /^demo: --grants must be a whole number/,
      linePrefix: "demo:",
    },
    {
      label: "demo --frobnicate",
      cmd: ["node", "--import", "tsx", "demo/main.ts", "--frobnicate"],
      env: {},
      expect: /^demo: Unknown option '--frobnicate'/,
      linePrefix: "demo:",
    },
    {
      label: "chaos --grants abc",
      cmd: ["node", "--import", "tsx", "chaos/run.ts", "--grants", "abc"],
      env: {},
      expect: /^chaos: --grants must be a whole number/,
    },
  ];
}

function runCase(c: ProcCase): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "production",
    };
    for (const [k, v] of Object.entries(c.env)) if (v !== undefined) env[k] = v;
    const child = spawn(c.cmd[0]!, c.cmd.slice(1), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Malformed environment and CLI input: each exits 2 with one clear line and no stack. */
export async function hostileInputs(
  settings: ChaosSettings,
): Promise<{ problems: string[]; figures: Record<string, string | number> }> {
  const problems: string[] = [];
  let ok = 0;
  const all = cases(settings);
  const queue = [...all];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const r = await runCase(c);
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
      const judged = c.linePrefix ? lines.filter((l) => l.startsWith(c.linePrefix!)) : lines;
      const bad: string[] = [];
      if (r.code !== 2) bad.push(`exit ${r.code}, expected 2`);
      if (judged.length !== 1) bad.push(`${judged.length} error line(s), expected 1`);
      else if (!c.expect.test(judged[0]!)) bad.push(`unclear error: ${JSON.stringify(judged[0]!.slice(0, 160))}`);
      if (/\n\s+at .+:\d+:\d+/.test(r.stderr + r.stdout)) bad.push("printed a stack trace");
      if (c.secret && (r.stderr + r.stdout).includes(c.secret)) bad.push("echoed a secret value");
      if (!c.linePrefix && r.stdout.trim() !== "") bad.push("printed to stdout");
      if (bad.length) problems.push(`${c.label}: ${bad.join("; ")}`);
      else ok++;
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return { problems, figures: { "bad env/CLI inputs rejected cleanly": `${ok}/${all.length}` } };
}
