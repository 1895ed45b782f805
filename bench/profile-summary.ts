/**
 * Summarises V8 CPU profiles (.cpuprofile, as `npm run bench -- --cpu-prof` writes them into
 * bench/out/prof): the top functions by self time and the time by package (node_modules
 * package, the project's own src/ directories, Node internals, GC, idle).
 *
 *   npx tsx bench/profile-summary.ts bench/out/prof/worker-123.cpuprofile [more…] [--top 25] [--md]
 *   npx tsx bench/profile-summary.ts FILE… --callers writev,writeUtf8String   (who makes the socket writes)
 *
 * Several files are summed (e.g. both pipeline runs). Percentages are of busy time (idle
 * excluded); `--md` prints Markdown tables for BENCHMARKS.md. Sampled heap profiles
 * (.heapprofile, `--heap-prof`) are summarised the same way by bytes allocated.
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a project directory, Node itself, or V8's own work. */
export function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(garbage collector)") return "(gc)";
    if (functionName === "(program)") return "(program)";
    return "(native)";
  }
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:internal/deps/")) return `node:${url.slice(19).split("/")[0]}`;
  if (url.startsWith("node:internal/")) return `node:internal/${url.slice(14).split("/")[0]!.replace(/\.js$/, "")}`;
  if (url.startsWith("node:")) return url;
  const m = /\/(src|bench|packages|harness|jobs)\/([^/]+)/.exec(url);
  if (m) return m[1] === "src" ? `src/${m[2]!.replace(/\.ts$/, "")}` : m[1]!;
  return url;
}

export interface Summary {
  totalMs: number;
  busyMs: number;
  functions: { name: string; where: string; module: string; ms: number }[];
  modules: { module: string; ms: number }[];
}

export function summarise(profiles: CpuProfile[]): Summary {
  const fn = new Map<string, { name: string; where: string; module: string; ms: number }>();
  const mod = new Map<string, number>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i]!);
      if (!node) continue;
      const ms = (p.timeDeltas[i] ?? 0) / 1000;
      total += ms;
      const f = node.callFrame;
      const module = moduleOf(f);
      const where = f.url
        ? `${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(src|bench)\//, "$1/")}:${f.lineNumber + 1}`
        : "";
      const key = `${f.functionName}@${where}`;
      const e = fn.get(key) ?? { name: f.functionName || "(anonymous)", where, module, ms: 0 };
      e.ms += ms;
      fn.set(key, e);
      mod.set(module, (mod.get(module) ?? 0) + ms);
    }
  }
  const idle = mod.get("(idle)") ?? 0;
  return {
    totalMs: total,
    busyMs: total - idle,
    functions: [...fn.values()].filter((f) => f.module !== "(idle)").sort((a, b) => b.ms - a.ms),
    modules: [...mod.entries()]
      .filter(([m]) => m !== "(idle)")
      .map(([module, ms]) => ({ module, ms }))
      .sort((a, b) => b.ms - a.ms),
  };
}

/**
 * A sampled heap profile as a CPU profile whose "time" is bytes: one sample per frame,
 * weighted by what the frame allocated (in kB), so `summarise` adds it up the same way.
 */
export function heapAsCpu(heap: HeapProfile): CpuProfile {
  const nodes: ProfileNode[] = [];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const walk = (n: HeapNode): number => {
    const node: ProfileNode = { id: nodes.length + 1, callFrame: n.callFrame };
    nodes.push(node);
    if (n.selfSize > 0) {
      samples.push(node.id);
      timeDeltas.push(n.selfSize); // µs in a CPU profile: bytes here, so "ms" reads as kB
    }
    node.children = n.children.map(walk);
    return node.id;
  };
  walk(heap.head);
  return { nodes, samples, timeDeltas, startTime: 0, endTime: 0 };
}

/**
 * Who calls the native functions named `names` (socket writes, say): their self time by the
 * nearest package or project frames above them (Node internals skipped), `depth` of them.
 */
export function callersOf(profiles: CpuProfile[], names: string[], depth = 3): { chain: string; ms: number }[] {
  const out = new Map<string, number>();
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i]!);
      if (!node || !names.includes(node.callFrame.functionName) || node.callFrame.url) continue;
      const chain: string[] = [];
      for (let cur = parent.get(node.id); cur !== undefined && chain.length < depth; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        const m = moduleOf(f);
        if (m.startsWith("node:") || m.startsWith("(")) continue;
        chain.push(`${f.functionName || "(anonymous)"} (${m})`);
      }
      const key = `${node.callFrame.functionName} ← ${chain.join(" ← ") || "?"}`;
      out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
    }
  }
  return [...out.entries()].map(([chain, ms]) => ({ chain, ms })).sort((a, b) => b.ms - a.ms);
}

function main(argv: string[]): void {
  let top = 25;
  let md = false;
  let callers: string[] | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--top") top = Number(argv[++i]);
    else if (argv[i] === "--callers") callers = (argv[++i] ?? "").split(",");
    else if (argv[i] === "--md") md = true;
    else files.push(argv[i]!);
  }
  if (files.length === 0 || !Number.isInteger(top) || top < 1) {
    process.stderr.write(
      "usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [...] [--top N] [--md] [--callers NAME,NAME]\n",
    );
    process.exit(2);
  }
  const parsed = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as CpuProfile | HeapProfile);
  const heap = parsed.every((p) => "head" in p);
  const profiles = parsed.map((p) => ("head" in p ? heapAsCpu(p) : p));
  if (callers) {
    for (const c of callersOf(profiles, callers).slice(0, top))
      process.stdout.write(`${c.ms.toFixed(0).padStart(7)} ms  ${c.chain}\n`);
    return;
  }
  const s = summarise(profiles);
  const pc = (ms: number) => `${((100 * ms) / s.busyMs).toFixed(1)}%`;
  const out: string[] = [];
  const unit = heap ? "kB" : "ms";
  out.push(
    heap
      ? `allocated ${(s.busyMs / 1000).toFixed(0)} MB (sampled)`
      : `busy ${(s.busyMs / 1000).toFixed(2)} s of ${(s.totalMs / 1000).toFixed(2)} s sampled`,
    "",
  );
  if (md) {
    out.push(`| Package / directory | Self ${unit} | Share |`, "|---|---:|---:|");
    for (const m of s.modules.slice(0, top)) out.push(`| ${m.module} | ${m.ms.toFixed(0)} | ${pc(m.ms)} |`);
    out.push("", `| Function | Where | Self ${unit} | Share |`, "|---|---|---:|---:|");
    for (const f of s.functions.slice(0, top))
      out.push(`| \`${f.name}\` | ${f.where} | ${f.ms.toFixed(0)} | ${pc(f.ms)} |`);
  } else {
    out.push("by package / directory (self time):");
    for (const m of s.modules.slice(0, top))
      out.push(`  ${pc(m.ms).padStart(6)} ${m.ms.toFixed(0).padStart(7)} ${unit}  ${m.module}`);
    out.push("", "by function (self time):");
    for (const f of s.functions.slice(0, top))
      out.push(`  ${pc(f.ms).padStart(6)} ${f.ms.toFixed(0).padStart(7)} ${unit}  ${f.name}  ${f.where}`);
  }
  process.stdout.write(out.join("\n") + "\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) main(process.argv.slice(2));
