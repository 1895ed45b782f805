import type { ExpectedOptions, Sandbox } from "nylas-sandbox";
import type { Db } from "../src/db/client.js";
import { applyGrantSettings } from "../src/grants/settings-store.js";
import { suppress } from "../src/optout/store.js";
import { enqueueRuns, type RunsQueue } from "../src/runs/queue.js";
import { addDays, localDate } from "../src/time/window.js";

/**
 * The night's cases beyond the seed's own (meetings the user only attends, a 300-person
 * all-hands, colleagues sharing a meeting, private and hidden-guest meetings): some users who
 * want every meeting reminded, a recipient who opted out, and a job delayed past its
 * meetings' start. Each is set up through the product's own writers, and each is handed to the
 * sandbox's expectations, which judge it by how the seed built the world.
 */
export interface DemoCases {
  /** Grants whose user chose the `all` policy (every third grant with a calendar). */
  policy: Record<string, "all">;
  /** Opted out before the night: a single-guest meeting's guest, from that grant only. */
  suppressed: { recipient: string; sender: string }[];
  /** A job of one grant delayed by a day: its day is yesterday. */
  delayed?: { grantId: string; day: string };
}

/** The sandbox's expectations of the night, with the cases (tomorrow for every grant). */
export function nightExpectations(cases: DemoCases, now: Date): ExpectedOptions {
  return { now, policy: cases.policy, suppressed: cases.suppressed };
}

/** Sets the cases up before the night's tick; `skip` are grants to leave alone (revoked ones). */
export async function setUpCases(db: Db, sandbox: Sandbox, now: Date, skip: Set<string>): Promise<DemoCases> {
  const ids = sandbox
    .grantIds()
    .filter(
      (id) => !skip.has(id) && sandbox.grant(id).grant_status === "valid" && sandbox.grant(id).provider !== "imap",
    );
  const policy: Record<string, "all"> = {};
  for (const [i, id] of ids.entries()) {
    if (i % 3 !== 1) continue;
    await applyGrantSettings(db, id, { policy: "all" });
    policy[id] = "all";
  }
  const cases: DemoCases = { policy, suppressed: [] };

  // A guest who unsubscribed from one user's reminders: that user's one-guest meeting goes
  // to nobody (opted_out); the guest's other meetings are other senders' and still go.
  const plain = ids.filter((id) => !(id in policy));
  const oneGuest = sandbox
    .expectedReminders({ ...nightExpectations(cases, now), grantIds: plain })
    .find((r) => r.title === "Deadline check-in" && r.recipients.length === 1);
  if (oneGuest) {
    const sender = sandbox.grant(oneGuest.grantId).email;
    await suppress(db, oneGuest.recipients[0]!, sender);
    cases.suppressed.push({ recipient: oneGuest.recipients[0]!, sender });
  }

  // A job held up for a day (a long outage, say): its day is yesterday, every meeting of it
  // has begun, and none may be reminded now.
  const late = plain.find((id) => id !== oneGuest?.grantId);
  if (late) cases.delayed = { grantId: late, day: addDays(localDate(sandbox.grantZone(late), now), -1) };
  return cases;
}

/** Queues the delayed job beside the night's jobs. */
export async function queueDelayed(queue: RunsQueue, cases: DemoCases): Promise<void> {
  if (cases.delayed) await enqueueRuns(queue, [cases.delayed], "scheduler");
}
