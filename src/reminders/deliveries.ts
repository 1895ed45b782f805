import type { EmailAddress, Meeting } from "./meeting.js";

/**
 * Which messages a day's meetings become. Pure. A meeting whose organiser hid the guest list
 * must never show one guest another's address, so each of its recipients gets a message of
 * their own; the others get one message to all their recipients, unless the deployment asks
 * for a message per recipient always (`REMINDER_DELIVERY=individual`).
 */

/** `shared`: one message per meeting where allowed; `individual`: one per recipient always. */
export type DeliveryMode = "shared" | "individual";

export const DELIVERY_MODES = ["shared", "individual"] as const satisfies readonly DeliveryMode[];

/** The audience of the message shared by all of a meeting's recipients. */
export const SHARED_AUDIENCE = "";

/** One message to send: a ledger row of its own, with its own marker and Idempotency-Key. */
export interface Delivery {
  meeting: Meeting;
  /** SHARED_AUDIENCE, or the lowercase address of the message's single recipient. */
  audience: string;
  /** The message's `to`. */
  recipients: EmailAddress[];
}

/**
 * The messages for `meetings`, in their order; a meeting's own messages by audience, so the
 * split is the same on every attempt. A recipient listed twice (case aside) gets one message.
 */
export function toDeliveries(meetings: readonly Meeting[], mode: DeliveryMode = "shared"): Delivery[] {
  const out: Delivery[] = [];
  for (const meeting of meetings) {
    if (mode === "shared" && meeting.hideParticipants !== true) {
      out.push({ meeting, audience: SHARED_AUDIENCE, recipients: meeting.recipients });
      continue;
    }
    const byAudience = new Map<string, EmailAddress>();
    for (const r of meeting.recipients) {
      const audience = r.email.trim().toLowerCase();
      if (audience !== "" && !byAudience.has(audience)) byAudience.set(audience, r);
    }
    for (const audience of [...byAudience.keys()].sort())
      out.push({ meeting, audience, recipients: [byAudience.get(audience)!] });
  }
  return out;
}
