/**
 * Input checks shared by the Nylas routes and the control API. Each returns a value or throws
 * an ApiError 400 with a message naming the offending field.
 */
import { badRequest } from "./errors.js";
import { isValidZone, parseYmd } from "./tz.js";
import type { BaseSkipReason, EventStatus, ExpectedAnnotation, Participant, ParticipantStatus, When } from "./types.js";

// Deliberately loose (like providers): something@something.tld, no spaces.
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$/;

export function isEmail(v: unknown): v is string {
  return typeof v === "string" && v.length <= 320 && EMAIL.test(v);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function int(v: unknown, field: string, min = -Infinity, max = Infinity): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    const range =
      min > -Infinity && max < Infinity ? ` between ${min} and ${max}` : min > -Infinity ? ` >= ${min}` : "";
    throw badRequest(`${field} must be an integer${range}`);
  }
  return n;
}

export function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badRequest(`${field} must be a string`);
  return v;
}

export function bool(v: string | null | undefined, field: string): boolean {
  if (v === null || v === undefined || v === "") return false;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badRequest(`${field} must be true or false`);
}

export function parseWhen(v: unknown, field = "when"): When {
  if (!isObject(v)) throw badRequest(`${field} must be an object`);
  const zoneOk = (z: unknown, f: string): string | undefined => {
    if (z === undefined || z === null || z === "") return undefined;
    if (!isValidZone(z)) throw badRequest(`${field}.${f} must be an IANA time zone`);
    return z;
  };
  const object = v.object ?? inferObject(v);
  switch (object) {
    case "time": {
      const time = int(v.time, `${field}.time`, 0);
      const timezone = zoneOk(v.timezone, "timezone");
      return timezone ? { object: "time", time, timezone } : { object: "time", time };
    }
    case "timespan": {
      const start_time = int(v.start_time, `${field}.start_time`, 0);
      const end_time = int(v.end_time, `${field}.end_time`, 0);
      if (end_time < start_time) throw badRequest(`${field}.end_time must not be before start_time`);
      const start_timezone = zoneOk(v.start_timezone, "start_timezone");
      const end_timezone = zoneOk(v.end_timezone, "end_timezone") ?? start_timezone;
      const w: When & { object: "timespan" } = { object: "timespan", start_time, end_time };
      if (start_timezone) w.start_timezone = start_timezone;
      if (end_timezone) w.end_timezone = end_timezone;
      return w;
    }
    case "date": {
      if (typeof v.date !== "string" || !parseYmd(v.date)) throw badRequest(`${field}.date must be YYYY-MM-DD`);
      return { object: "date", date: v.date };
    }
    case "datespan": {
      if (typeof v.start_date !== "string" || !parseYmd(v.start_date))
        throw badRequest(`${field}.start_date must be YYYY-MM-DD`);
      if (typeof v.end_date !== "string" || !parseYmd(v.end_date))
        throw badRequest(`${field}.end_date must be YYYY-MM-DD`);
      if (v.end_date < v.start_date) throw badRequest(`${field}.end_date must not be before start_date`);
      return { object: "datespan", start_date: v.start_date, end_date: v.end_date };
    }
    default:
      throw badRequest(`${field}.object must be one of time, timespan, date, datespan`);
  }
}

function inferObject(v: Record<string, unknown>): string | undefined {
  if ("start_time" in v) return "timespan";
  if ("time" in v) return "time";
  if ("start_date" in v) return "datespan";
  if ("date" in v) return "date";
  return undefined;
}

const PARTICIPANT_STATUSES: readonly ParticipantStatus[] = ["yes", "no", "maybe", "noreply"];

export function parseParticipants(v: unknown, field = "participants"): Participant[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`${field} must be an array`);
  return v.map((p, i) => {
    if (!isObject(p)) throw badRequest(`${field}[${i}] must be an object`);
    if (!isEmail(p.email)) throw badRequest(`${field}[${i}].email must be an email address`);
    const status = p.status ?? "noreply";
    if (!PARTICIPANT_STATUSES.includes(status as ParticipantStatus)) {
      throw badRequest(`${field}[${i}].status must be one of ${PARTICIPANT_STATUSES.join(", ")}`);
    }
    const out: Participant = { email: p.email, status: status as ParticipantStatus };
    const name = optString(p.name, `${field}[${i}].name`);
    if (name !== undefined) out.name = name;
    const comment = optString(p.comment, `${field}[${i}].comment`);
    if (comment !== undefined) out.comment = comment;
    return out;
  });
}

const EVENT_STATUSES: readonly EventStatus[] = ["confirmed", "maybe", "tentative", "cancelled"];

export function parseEventStatus(v: unknown): EventStatus {
  if (v === undefined || v === null) return "confirmed";
  if (!EVENT_STATUSES.includes(v as EventStatus))
    throw badRequest(`status must be one of ${EVENT_STATUSES.join(", ")}`);
  return v as EventStatus;
}

const BASE_REASONS: readonly BaseSkipReason[] = [
  "cancelled",
  "all_day",
  "user_declined",
  "no_other_participants",
  "all_others_declined",
];

export function parseExpected(v: unknown): ExpectedAnnotation | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.remind !== "boolean")
    throw badRequest("expected must be {remind: boolean, recipients?: string[], reason?}");
  const recipients = v.recipients ?? [];
  if (!Array.isArray(recipients) || !recipients.every(isEmail))
    throw badRequest("expected.recipients must be an array of emails");
  const out: ExpectedAnnotation = {
    remind: v.remind,
    recipients: [...new Set(recipients.map((r) => r.toLowerCase()))].sort(),
  };
  if (v.reason !== undefined) {
    if (!BASE_REASONS.includes(v.reason as BaseSkipReason))
      throw badRequest(`expected.reason must be one of ${BASE_REASONS.join(", ")}`);
    out.reason = v.reason as BaseSkipReason;
  }
  if (v.organizer !== undefined) {
    if (v.organizer !== "user" && v.organizer !== "other") throw badRequest("expected.organizer must be user or other");
    out.organizer = v.organizer;
  }
  if (v.external !== undefined) {
    if (typeof v.external !== "boolean") throw badRequest("expected.external must be a boolean");
    out.external = v.external;
  }
  for (const flag of ["private", "individual"] as const) {
    if (v[flag] === undefined || v[flag] === false) continue;
    if (v[flag] !== true) throw badRequest(`expected.${flag} must be a boolean`);
    out[flag] = true;
  }
  if (typeof v.note === "string") out.note = v.note;
  return out;
}
