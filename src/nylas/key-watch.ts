import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";
import { classifyError, describeFailure } from "./errors.js";

/**
 * The application's API key, refused by Nylas (wrong, rotated, revoked): no grant is to blame,
 * so none is marked, and no job can do anything until the key works. The first job of a
 * process that meets the refusal pauses the runs queue with BullMQ's `queue.pause()`, which is
 * kept in Redis and so stops every worker process from taking jobs (a worker's own `pause()`
 * would stop only this process, and the others would go on meeting 401s), and leaves a marker
 * in Redis saying why. Every worker process looks for that marker every `everyMs` (and once at
 * start, for a marker a previous process left behind) and, while it is there, checks its own
 * key with one cheap request; the first process whose key works resumes the queue and removes
 * the marker. The jobs that met the refusal wait in the delayed set, and the ledger makes
 * their next attempt send only what is missing.
 */

export interface KeyWatchSettings {
  /** How often the marker is looked for and, while it is there, the key checked (ms). */
  everyMs: number;
  /** The Redis key of the marker, shared by every process of the deployment. */
  markerKey: string;
}

export interface KeyWatchDeps {
  queue: Pick<Queue, "pause" | "resume">;
  redis: Redis;
  /** One cheap authenticated request (`GET /v3/grants?limit=1`); throws when it fails. */
  checkKey: () => Promise<unknown>;
  log: Logger;
}

/** What a job needs of the watch. */
export interface ApiKeyGate {
  /** This process met a refused key and no check has passed since. */
  readonly refused: boolean;
  /** How long a job that met the refusal waits before it runs again (ms). */
  readonly retryInMs: number;
  /** A request was refused for the API key: pause the runs queue (once) and say so (once). */
  refuse(reason: string): Promise<void>;
}

export const KEY_REFUSED_MARKER = "nylas-api-key-refused";

export class ApiKeyWatch implements ApiKeyGate {
  private refusedHere = false;
  /** Counts refusals, so a check that read "no marker" before one began does not undo it. */
  private refusals = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly deps: KeyWatchDeps,
    private readonly settings: KeyWatchSettings,
  ) {}

  get refused(): boolean {
    return this.refusedHere;
  }

  get retryInMs(): number {
    return this.settings.everyMs;
  }

  async refuse(reason: string): Promise<void> {
    if (this.refusedHere) return;
    this.refusedHere = true;
    this.refusals++;
    const { redis, queue, log } = this.deps;
    // The marker holds when, never the key.
    await redis.set(this.settings.markerKey, new Date().toISOString());
    await queue.pause();
    log.error(
      { cause: "nylas_api_key_refused", reason, checkEveryMs: this.settings.everyMs },
      "Nylas refused the API key (NYLAS_API_KEY is wrong, rotated or revoked): runs queue paused, no grant marked; " +
        "it resumes by itself once the key is accepted",
    );
  }

  /** Starts looking for the marker: now, then every `everyMs`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.settings.everyMs);
    this.timer.unref();
    void this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** One look: while the marker is there, check the key; once it works, resume the queue. */
  check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    const { redis, queue, log } = this.deps;
    const refusals = this.refusals;
    try {
      if ((await redis.exists(this.settings.markerKey)) === 0) {
        // Another process found the key working and resumed the queue (unless this one refused
        // the key meanwhile: the read may predate its marker).
        if (this.refusals === refusals) this.refusedHere = false;
        return;
      }
      try {
        await this.deps.checkKey();
      } catch (err) {
        const failure = classifyError(err);
        // Still refused: said once already, at the pause.
        if (failure.status === 401) return;
        log.warn({ kind: failure.kind }, `could not check the Nylas API key: ${describeFailure(failure)}`);
        return;
      }
      // Resume first: a process that stops in between leaves the marker, and the next check resumes again.
      await queue.resume();
      await redis.del(this.settings.markerKey);
      this.refusedHere = false;
      log.info({ cause: "nylas_api_key_accepted" }, "Nylas accepts the API key again: runs queue resumed");
    } catch (err) {
      log.warn({ err }, "could not check whether the runs queue waits for the Nylas API key");
    }
  }
}
