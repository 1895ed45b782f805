import { Queue, Worker, type Processor, type QueueOptions, type WorkerOptions } from "bullmq";
import type { Logger } from "../log/logger.js";
import { scrubError } from "../log/scrub.js";
import { logErrors } from "./error-log.js";

/**
 * Every BullMQ Queue and Worker of the product is made here, so that each has its errors
 * logged (throttled, through pino) and each worker's failures are stored scrubbed.
 * A queue made without a logger (tests, benchmarks) gets no listener.
 */
export function createQueue<D, R>(name: string, opts: QueueOptions, log?: Logger): Queue<D, R> {
  const queue = new Queue<D, R>(name, opts);
  if (log) logErrors(queue, log, `queue ${name}`);
  return queue;
}

/**
 * A Worker whose processor throws only scrubbed errors: BullMQ keeps a failed job's message
 * (failedReason) and stack in Redis for two weeks, and Bull Board shows them.
 */
export function createWorker<D, R>(
  name: string,
  processor: Processor<D, R>,
  opts: WorkerOptions,
  log: Logger,
): Worker<D, R> {
  const scrubbed: Processor<D, R> = async (job, token, signal) => {
    try {
      return await processor(job, token, signal);
    } catch (err) {
      throw scrubError(err);
    }
  };
  const worker = new Worker<D, R>(name, scrubbed, opts);
  logErrors(worker, log, `worker ${name}`);
  return worker;
}
