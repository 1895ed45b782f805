/**
 * The query of `GET /_sandbox/expected` as ExpectedOptions. Each bad value answers 400 with a
 * message naming the parameter:
 *   grant_id (repeated), day (YYYY-MM-DD | tomorrow), now, include_invalid=true,
 *   policy: a JSON object {"<grantId>": "organized" | "all" | "external"}, or repeated
 *     `policy=<grantId>:<policy>`; default_policy,
 *   max_recipients, min_lead_minutes (0: off),
 *   suppressed: a JSON array [{"recipient": "...", "sender"?: "..."}], or repeated
 *     `suppressed=<recipient>` / `suppressed=<recipient>:<sender>`.
 */
import { badRequest } from "./errors.js";
import type { ExpectedOptions, Suppression } from "./expected.js";
import { REMINDER_POLICIES, type ReminderPolicy } from "./types.js";
import { bool, int, isEmail, isObject } from "./validate.js";

function policyOf(v: unknown, field: string): ReminderPolicy {
  if (!REMINDER_POLICIES.includes(v as ReminderPolicy))
    throw badRequest(`${field} must be one of ${REMINDER_POLICIES.join(", ")}`);
  return v as ReminderPolicy;
}

function json(v: string, field: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw badRequest(`${field} is not valid JSON`);
  }
}

function policies(values: string[]): Record<string, ReminderPolicy> {
  const out: Record<string, ReminderPolicy> = {};
  for (const v of values) {
    if (v.trimStart().startsWith("{")) {
      const o = json(v, "policy");
      if (!isObject(o)) throw badRequest("policy must be a JSON object of grant id to policy");
      for (const [id, p] of Object.entries(o)) out[id] = policyOf(p, `policy of ${id}`);
      continue;
    }
    const at = v.lastIndexOf(":");
    if (at <= 0) throw badRequest("policy must be <grantId>:<policy> or a JSON object");
    out[v.slice(0, at)] = policyOf(v.slice(at + 1), `policy of ${v.slice(0, at)}`);
  }
  return out;
}

function suppression(v: unknown, field: string): Suppression {
  if (!isObject(v) || !isEmail(v.recipient)) throw badRequest(`${field}.recipient must be an email address`);
  if (v.sender !== undefined && !isEmail(v.sender)) throw badRequest(`${field}.sender must be an email address`);
  return v.sender === undefined ? { recipient: v.recipient } : { recipient: v.recipient, sender: v.sender };
}

function suppressions(values: string[]): Suppression[] {
  const out: Suppression[] = [];
  for (const v of values) {
    if (v.trimStart().startsWith("[")) {
      const a = json(v, "suppressed");
      if (!Array.isArray(a)) throw badRequest("suppressed must be a JSON array");
      a.forEach((x, i) => out.push(suppression(x, `suppressed[${i}]`)));
      continue;
    }
    // Emails hold no ':' (validate.ts), so it separates the recipient from the sender.
    const [recipient, sender, extra] = v.split(":");
    if (extra !== undefined) throw badRequest("suppressed must be <recipient> or <recipient>:<sender>");
    out.push(suppression(sender === undefined ? { recipient } : { recipient, sender }, "suppressed"));
  }
  return out;
}

export function expectedOptionsFrom(q: URLSearchParams, parseNow: (v: string) => number): ExpectedOptions {
  const opts: ExpectedOptions = {};
  const ids = q.getAll("grant_id");
  if (ids.length) opts.grantIds = ids;
  const day = q.get("day");
  if (day) {
    if (day !== "tomorrow" && !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw badRequest("day must be YYYY-MM-DD or tomorrow");
    opts.day = day;
  }
  const now = q.get("now");
  if (now) opts.now = parseNow(now);
  if (bool(q.get("include_invalid"), "include_invalid")) opts.includeInvalid = true;
  const policy = q.getAll("policy");
  if (policy.length) opts.policy = policies(policy);
  const dp = q.get("default_policy");
  if (dp) opts.defaultPolicy = policyOf(dp, "default_policy");
  const max = q.get("max_recipients");
  if (max) opts.maxRecipients = int(max, "max_recipients", 1, 100_000);
  const lead = q.get("min_lead_minutes");
  if (lead) opts.minLeadMinutes = int(lead, "min_lead_minutes", 0, 100_000);
  const suppressed = q.getAll("suppressed");
  if (suppressed.length) opts.suppressed = suppressions(suppressed);
  return opts;
}
