/**
 * OAuth scopes: the full set a grant gets when none are asked for, and which scopes each route
 * needs (the `x-scopes` of email-calendar.yaml: the minimum and every broader one). A Google or
 * Microsoft grant that holds none of a route's scopes gets 403 `insufficient_scopes`; providers
 * signed in without OAuth scopes (IMAP, iCloud, EWS, Yahoo, virtual calendars) never do.
 */
import { ApiError } from "./errors.js";
import { profileOf } from "./providers.js";
import type { Provider } from "./types.js";

/** What a route does with the user's account, for the scope check. */
export type ScopeNeed = "calendars" | "events" | "messages" | "folders" | "send";

const G = "https://www.googleapis.com/auth/";

// Built once: 100,000 grants share these strings.
const FULL: Partial<Record<Provider, readonly string[]>> = {
  google: [
    `${G}userinfo.email`,
    `${G}calendar.readonly`,
    `${G}calendar.events.readonly`,
    `${G}gmail.readonly`,
    `${G}gmail.labels`,
    `${G}gmail.send`,
  ],
  microsoft: ["User.Read", "offline_access", "Calendars.Read", "Mail.Read", "Mail.ReadWrite", "Mail.Send"],
};

/** Seeded grants, grants added without `scope`, and OAuth sign-ins that ask for none. */
export function fullScopes(provider: Provider): string[] {
  return [...(FULL[provider] ?? [])];
}

/**
 * Scopes that satisfy each need, without their provider prefix, lower case. From the spec's
 * x-scopes, plus three that real providers accept and the tables leave out (the README lists
 * them): Google's `calendar.readonly` reads events and `gmail.readonly` reads labels, and
 * Microsoft Graph sends with `Mail.Send`.
 */
const ACCEPTED: Record<"google" | "microsoft", Record<ScopeNeed, readonly string[]>> = {
  google: {
    calendars: ["calendar.readonly", "calendar"],
    events: ["calendar.events.readonly", "calendar.events", "calendar", "calendar.readonly"],
    messages: ["gmail.readonly", "gmail.modify", "mail.google.com"],
    folders: ["gmail.labels", "gmail.modify", "gmail.readonly", "mail.google.com"],
    send: ["gmail.send", "gmail.compose", "gmail.modify", "mail.google.com"],
  },
  microsoft: {
    calendars: ["calendars.read", "calendars.readwrite"],
    events: ["calendars.read", "calendars.readwrite"],
    messages: ["mail.read", "mail.readwrite", "mail.read.shared", "mail.readwrite.shared"],
    folders: ["mail.read", "mail.readwrite", "mail.read.shared", "mail.readwrite.shared"],
    send: ["mail.readwrite", "mail.readwrite.shared", "mail.send"],
  },
};

/** The spec's 403 message for sends; the others follow its pattern (our wording). */
const WHAT: Record<ScopeNeed, string> = {
  calendars: "read calendars",
  events: "read events",
  messages: "read email",
  folders: "read folders",
  send: "send email",
};

/** `https://www.googleapis.com/auth/gmail.send` → `gmail.send`; `Mail.Send` → `mail.send`. */
export function normaliseScope(scope: string): string {
  return scope
    .trim()
    .toLowerCase()
    .replace(/^https:\/\/www\.googleapis\.com\/auth\//, "")
    .replace(/^https:\/\/graph\.microsoft\.com\//, "")
    .replace(/^https:\/\//, "")
    .replace(/\/$/, "");
}

export function hasScopeFor(provider: Provider, scope: readonly string[], need: ScopeNeed): boolean {
  if (!profileOf(provider).scoped) return true;
  const accepted = ACCEPTED[provider as "google" | "microsoft"][need];
  return scope.some((s) => accepted.includes(normaliseScope(s)));
}

/** 403 `insufficient_scopes` (spec, components/responses/403) when the grant lacks the need. */
export function checkScope(provider: Provider, scope: readonly string[], need: ScopeNeed): void {
  if (hasScopeFor(provider, scope, need)) return;
  throw new ApiError(
    403,
    "insufficient_scopes",
    `missing provider scopes required to ${WHAT[need]}`,
    undefined,
    {},
    "insufficient_scopes",
  );
}

/** A scope list from the control API: an array of non-empty strings, at most 100. */
export function isScopeList(v: unknown): v is string[] {
  return (
    Array.isArray(v) &&
    v.length <= 100 &&
    v.every((s) => typeof s === "string" && s.trim() !== "" && s.length <= 300 && !/\s/.test(s))
  );
}
