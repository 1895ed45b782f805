/**
 * One record of the import file checked into a row to import (pure): who (provider, email),
 * the credentials Nylas' custom authentication takes for the provider, and the user's
 * settings, checked by the same rules as the admin API and `grants:settings`
 * (src/grants/settings.ts). The credentials (`refresh_token`, `imap_password`) are secrets:
 * read, sent to Nylas, never written anywhere; problems never quote them.
 */
import { checkSettingsPatch, type SettingsPatch } from "../settings.js";
import { IMAP_COLUMNS, type ImportColumn, type ImportRecord } from "./file.js";

export const IMPORT_PROVIDERS = ["google", "microsoft", "imap"] as const;
export type ImportProvider = (typeof IMPORT_PROVIDERS)[number];

export interface ImportRow {
  /** The line of the file (1-based). */
  line: number;
  provider: ImportProvider;
  email: string;
  /** `settings` of `POST /v3/connect/custom`: secrets inside. */
  credentials: Record<string, string | number>;
  /** The user's settings from the file; empty when it gives none. */
  settings: SettingsPatch;
}

export type RowCheck = { ok: true; row: ImportRow } | { ok: false; email?: string; problems: string[] };

const EMAIL = /^[^\s@",;<>]+@[^\s@",;<>]+\.[^\s@",;<>.]+$/;
const HOST = /^[A-Za-z0-9.-]{1,253}$/;

export function checkRow(record: ImportRecord, line: number): RowCheck {
  const problems: string[] = [];
  const text = (c: ImportColumn): string | undefined => {
    const v = record[c];
    return v === undefined || v === null || v === "" ? undefined : String(v).trim();
  };
  const provider = text("provider")?.toLowerCase();
  if (provider === undefined) problems.push("provider is missing");
  else if (!(IMPORT_PROVIDERS as readonly string[]).includes(provider))
    problems.push(`provider must be ${IMPORT_PROVIDERS.join(", ")}, not ${show(provider)}`);
  const email = text("email");
  const emailOk = email !== undefined && email.length <= 320 && EMAIL.test(email);
  if (email === undefined) problems.push("email is missing");
  else if (!emailOk) problems.push(`email is not an email address: ${show(email)}`);

  const credentials: Record<string, string | number> = {};
  if (provider === "google" || provider === "microsoft") {
    const token = text("refresh_token");
    if (token === undefined) problems.push(`refresh_token is required for ${provider}`);
    // eslint-disable-next-line no-control-regex
    else if (/[\s\u0000-\u001f]/.test(token)) problems.push("refresh_token has spaces or control characters in it");
    else credentials.refresh_token = token;
    const stray = IMAP_COLUMNS.filter((c) => text(c) !== undefined);
    if (stray.length > 0) problems.push(`${stray.join(", ")} ${stray.length > 1 ? "are" : "is"} for imap rows only`);
  } else if (provider === "imap") {
    if (text("refresh_token") !== undefined) problems.push("refresh_token is for google and microsoft rows only");
    const user = text("imap_username") ?? email;
    if (user !== undefined) credentials.imap_username = user;
    const password = record.imap_password;
    if (password === undefined || password === null || password === "")
      problems.push("imap_password is required for imap");
    else credentials.imap_password = String(password);
    for (const c of ["imap_host", "smtp_host"] as const) {
      const host = text(c);
      if (host === undefined) continue;
      if (HOST.test(host)) credentials[c] = host;
      else problems.push(`${c} must be a host name, not ${show(host)}`);
    }
    for (const c of ["imap_port", "smtp_port"] as const) {
      const port = text(c);
      if (port === undefined) continue;
      const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
      if (n >= 1 && n <= 65535) credentials[c] = n;
      else problems.push(`${c} must be a port number 1-65535, not ${show(port)}`);
    }
  }

  const raw: Record<string, unknown> = {};
  const hour = record.send_hour;
  if (hour !== undefined && hour !== null && hour !== "")
    raw.sendHour = typeof hour === "string" && /^\d{1,2}$/.test(hour.trim()) ? Number(hour) : hour;
  const enabled = record.enabled;
  if (enabled !== undefined && enabled !== null && enabled !== "") {
    const e = typeof enabled === "string" ? enabled.trim().toLowerCase() : enabled;
    raw.enabled = e === "true" ? true : e === "false" ? false : e;
  }
  if (text("time_zone") !== undefined) raw.timeZone = text("time_zone");
  if (text("locale") !== undefined) raw.locale = text("locale");
  let settings: SettingsPatch = {};
  if (Object.keys(raw).length > 0) {
    const check = checkSettingsPatch(raw);
    if (check.ok) settings = check.patch;
    else problems.push(...check.problems.map(columnNames));
  }
  if (problems.length > 0) return emailOk ? { ok: false, email, problems } : { ok: false, problems };
  return { ok: true, row: { line, provider: provider as ImportProvider, email: email!, credentials, settings } };
}

/** The settings checker speaks of the API's keys; the file has columns. */
function columnNames(problem: string): string {
  const columns: Record<string, string> = {
    sendHour: "send_hour",
    enabled: "enabled",
    timeZone: "time_zone",
    locale: "locale",
  };
  return problem
    .replace(/^(\w+) must/, (m, key: string) => (columns[key] ? `${columns[key]} must` : m))
    .replace(/,? or null \((?:the default|clear)\)/, "");
}

/** The identity of a row: an address has one grant at Nylas, whatever its case. */
export function rowKey(email: string): string {
  return email.toLowerCase();
}

const show = (v: string) => JSON.stringify(v.length > 64 ? `${v.slice(0, 63)}…` : v);
