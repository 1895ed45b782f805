import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { addDays, localDate, localDayWindow } from "../time/window.js";
import type { RunsQueue } from "./queue.js";
import { addRerunJob } from "./rerun.js";
import { RunStore } from "./store.js";

/**
 * The second sweep, for deployments without webhooks: a few hours before a grant's day
 * begins, its completed run is re-run once, so meetings added, moved or cancelled since the
 * run are caught (src/reminders/changes.ts). `runs.swept_at` records that it happened.
 */

export interface SweepSettings {
  /** SWEEP_HOURS_BEFORE: how long before the day's local midnight the sweep may run. */
  hoursBefore: number;
  /** RERUN_DEBOUNCE_MS: the re-run's delay. */
  delayMs: number;
}

/**
 * The sweep's settings for a deployment: on only without webhooks (NYLAS_WEBHOOK_SECRET
 * unset), since `event.*` notifications re-run changed days as they happen, and unless
 * SWEEP_HOURS_BEFORE is 0.
 */
export function sweepSettings(
  config: Pick<Config, "NYLAS_WEBHOOK_SECRET" | "SWEEP_HOURS_BEFORE" | "RERUN_DEBOUNCE_MS">,
): SweepSettings | undefined {
  if (config.NYLAS_WEBHOOK_SECRET || config.SWEEP_HOURS_BEFORE === 0) return undefined;
  return { hoursBefore: config.SWEEP_HOURS_BEFORE, delayMs: config.RERUN_DEBOUNCE_MS };
}

/**
 * The sweep of `day` (in `zone`) is due at `now`: within `hoursBefore` hours before it begins,
 * unless its run finished within those hours already (it read the calendar recently enough:
 * a user whose send hour falls in them is not read twice in a row). Pure.
 */
export function isSweepDue(
  zone: string,
  day: string,
  now: Date,
  hoursBefore: number,
  finishedAt: Date | null = null,
): boolean {
  const start = localDayWindow(zone, day).start * 1000;
  const from = start - hoursBefore * 3_600_000;
  if (finishedAt !== null && finishedAt.getTime() >= from) return false;
  return now.getTime() < start && now.getTime() >= from;
}

/** Re-runs the completed days whose sweep is due; returns how many were queued. */
export async function secondSweep(
  db: Db,
  queue: RunsQueue,
  log: Logger,
  now: Date,
  settings: SweepSettings,
): Promise<number> {
  const store = new RunStore(db);
  const today = localDate("UTC", now);
  const candidates = await store.sweepable(addDays(today, -1), addDays(today, 2));
  let queued = 0;
  for (const run of candidates) {
    let due: boolean;
    try {
      due = isSweepDue(run.timeZone, run.day, now, settings.hoursBefore, run.finishedAt);
    } catch {
      continue; // an unknown zone: the tick reports it with the grant's other runs
    }
    if (!due) continue;
    // The job first: a sweep cut off between the two is simply done again on the next tick. A
    // day whose job is running is left for the next tick.
    if ((await addRerunJob(queue, run, settings.delayMs)) === "running") continue;
    if (await store.sweep(run, now)) queued++;
  }
  if (queued > 0) log.info({ queued }, "second sweep: completed days re-run before they begin");
  return queued;
}
