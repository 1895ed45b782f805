/**
 * Which selected meetings the deployment (or the grant) wants reminded: the checks that come
 * after an event is known to be a meeting with other people. Pure.
 *
 * In this order, the first that applies is the skip reason:
 * - `private`: the event's visibility is "private" (its existence is not the user's to announce).
 * - the policy: `organized` wants meetings the user organises; `all` wants any; `external`
 *   wants meetings the user organises with at least one recipient outside the user's email
 *   domain. A meeting the user does not organise is `not_organizer`; an organised one whose
 *   recipients all share the user's domain is `internal_only`.
 * - `too_many_recipients`: more recipients than the cap.
 *
 * Domains compare as whole strings, case-insensitively: a subdomain (eu.example.com for a
 * user at example.com) is another domain, so its people count as outside guests. Simple and
 * predictable beats guessing which domains belong to one organisation.
 */
import type { Meeting, SkipReason } from "./meeting.js";

export const REMINDER_POLICIES = ["organized", "all", "external"] as const;
export type ReminderPolicy = (typeof REMINDER_POLICIES)[number];

export interface PolicyContext {
  policy: ReminderPolicy;
  /** A meeting with more recipients than this is skipped. */
  maxRecipients: number;
}

export function isReminderPolicy(v: unknown): v is ReminderPolicy {
  return typeof v === "string" && (REMINDER_POLICIES as readonly string[]).includes(v);
}

/** The domain of an address, lower-cased ("" when it has no @). */
export function emailDomain(email: string): string {
  const domain = email.slice(email.lastIndexOf("@") + 1);
  return email.includes("@") ? domain.trim().toLowerCase() : "";
}

/**
 * Why `meeting` gets no reminder under `ctx`, or undefined when it gets one. `visibility` is
 * the event's raw field (untrusted); `grantEmail` the user's address.
 */
export function policySkip(
  meeting: Pick<Meeting, "userIsOrganizer" | "recipients">,
  visibility: unknown,
  grantEmail: string,
  ctx: PolicyContext,
): SkipReason | undefined {
  if (typeof visibility === "string" && visibility.toLowerCase() === "private") return "private";
  if (ctx.policy !== "all" && !meeting.userIsOrganizer) return "not_organizer";
  if (ctx.policy === "external") {
    const own = emailDomain(grantEmail);
    if (!meeting.recipients.some((r) => emailDomain(r.email) !== own)) return "internal_only";
  }
  if (meeting.recipients.length > ctx.maxRecipients) return "too_many_recipients";
  return undefined;
}
