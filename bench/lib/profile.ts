import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * Starts a V8 CPU profile of this process when BENCH_CPU_PROF names a directory (the bench's
 * --cpu-prof flag; `--cpu-prof` itself is not allowed in NODE_OPTIONS), and with
 * BENCH_HEAP_PROF (--heap-prof) a sampled profile of what it allocates. Returns a function
 * that writes `<name>-<pid>.cpuprofile` (and `.heapprofile`) there, or a no-op.
 */
export async function maybeProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => {};
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  const heap = Boolean(process.env.BENCH_HEAP_PROF);
  if (heap)
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 64 * 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    if (heap) {
      const sampled = await session.post("HeapProfiler.stopSampling");
      writeFileSync(join(dir, `${name}-${process.pid}.heapprofile`), JSON.stringify(sampled.profile));
    }
    session.disconnect();
  };
}
