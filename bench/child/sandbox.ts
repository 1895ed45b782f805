/**
 * The Nylas sandbox in a process of its own, so its request handling does not share an
 * event loop with the code being measured. Prints `READY <url>` once listening; the bench
 * drives it through its /_sandbox/ control routes. Env: SANDBOX_LOG_CAPACITY.
 */
import { startSandbox } from "nylas-sandbox";

const capacity = Number(process.env.SANDBOX_LOG_CAPACITY ?? 1_000_000);
const sandbox = await startSandbox({ requestLogCapacity: capacity });
process.stdout.write(`READY ${sandbox.url}\n`);

const stop = () => {
  void sandbox.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("disconnect", stop);
