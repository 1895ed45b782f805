/** Collects figures as the benchmarks run, prints them, and renders BENCHMARKS.md. */

export interface Target {
  kind: "ratio>=" | "ratio<=" | "value<" | "value<=";
  value: number;
}

export interface Figure {
  section?: string;
  name: string;
  value: number;
  unit: string;
  baseline: number | undefined;
  baselineName: string;
  target?: Target;
}

export interface Section {
  title: string;
  notes: string[];
  figures: Figure[];
  extra: string[];
}

export function ratioOf(f: Figure): number | undefined {
  return f.baseline !== undefined && f.baseline !== 0 ? f.value / f.baseline : undefined;
}

export function isMet(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  const r = ratioOf(f);
  switch (f.target.kind) {
    case "ratio>=":
      return r !== undefined && r >= f.target.value;
    case "ratio<=":
      return r !== undefined && r <= f.target.value;
    case "value<":
      return f.value < f.target.value;
    case "value<=":
      return f.value <= f.target.value;
  }
}

export function describeTarget(t: Target | undefined, unit: string): string {
  if (!t) return "—";
  switch (t.kind) {
    case "ratio>=":
      return `≥ ${pct(t.value)} of baseline`;
    case "ratio<=":
      return `≤ ${t.value.toFixed(2)}× baseline`;
    case "value<":
      return `< ${t.value} ${unit}`;
    case "value<=":
      return `≤ ${t.value} ${unit}`;
  }
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

export function num(x: number, unit = ""): string {
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit ? ` ${unit}` : ""}`;
}

export class Reporter {
  readonly sections: Section[] = [];
  private current: Section | undefined;

  section(title: string): void {
    this.current = { title, notes: [], figures: [], extra: [] };
    this.sections.push(this.current);
    process.stdout.write(`\n== ${title}\n`);
  }

  progress(line: string): void {
    process.stdout.write(`   ${line}\n`);
  }

  note(text: string): void {
    this.current?.notes.push(text);
    process.stdout.write(`   note: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}\n`);
  }

  /** Markdown appended to the section as is (tables, images). */
  extra(markdown: string): void {
    this.current?.extra.push(markdown);
  }

  figure(f: Figure): void {
    f.section = this.current?.title;
    this.current?.figures.push(f);
    const r = ratioOf(f);
    const met = isMet(f);
    process.stdout.write(
      `   ▶ ${f.name}: ${num(f.value, f.unit)}` +
        (f.baseline !== undefined
          ? ` | baseline (${f.baselineName}) ${num(f.baseline, f.unit)} | ratio ${r !== undefined ? r.toFixed(2) : "—"}`
          : "") +
        (f.target ? ` | target ${describeTarget(f.target, f.unit)}: ${met ? "MET" : "NOT MET"}` : "") +
        "\n",
    );
  }

  figures(): Figure[] {
    return this.sections.flatMap((s) => s.figures);
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  redis: string;
  postgres: string;
  bullmq: string;
  prisma: string;
}

function esc(s: string): string {
  return s.replace(/\|/g, "\\|");
}

export function renderMarkdown(opts: {
  report: Reporter;
  machine: MachineInfo;
  command: string;
  startedAt: Date;
  totalS: number;
  quick: boolean;
}): string {
  const { report, machine } = opts;
  const lines: string[] = [];
  lines.push("# Benchmarks");
  lines.push("");
  lines.push(
    `Written by \`npm run bench\` (bench/run.ts) on ${opts.startedAt.toISOString()}; the whole run took ${(opts.totalS / 60).toFixed(1)} min.` +
      (opts.quick
        ? " **This was a --quick smoke run: sizes are small and the figures are not the ones the targets are about.**"
        : ""),
  );
  lines.push(
    "Every figure is measured next to its baseline in the same run, against the local Nylas sandbox on loopback.",
  );
  lines.push("");
  lines.push("## Machine and versions");
  lines.push("");
  lines.push("| | |");
  lines.push("|---|---|");
  lines.push(`| CPU | ${esc(machine.cpu)}, ${machine.cores} cores |`);
  lines.push(`| Memory | ${machine.memoryGb.toFixed(0)} GB |`);
  lines.push(`| OS | ${esc(machine.os)} |`);
  lines.push(`| Node | ${machine.node} |`);
  lines.push(`| Redis | ${machine.redis} |`);
  lines.push(`| Postgres | ${machine.postgres} |`);
  lines.push(`| BullMQ / Prisma | ${machine.bullmq} / ${machine.prisma} |`);
  lines.push(`| Command | \`${opts.command}\` |`);
  lines.push("");
  lines.push("## Summary");
  lines.push("");
  lines.push("| Figure | Measured | Baseline | Ratio | Target | Met? |");
  lines.push("|---|---:|---|---:|---|---|");
  for (const f of report.figures()) {
    const r = ratioOf(f);
    const met = isMet(f);
    lines.push(
      `| ${esc(f.name)} | ${num(f.value, f.unit)} | ${f.baseline !== undefined ? `${num(f.baseline, f.unit)} (${esc(f.baselineName)})` : esc(f.baselineName)} | ${r !== undefined ? (f.target?.kind === "ratio>=" ? pct(r) : `${r.toFixed(2)}×`) : "—"} | ${describeTarget(f.target, f.unit)} | ${met === undefined ? "—" : met ? "yes" : "**no**"} |`,
    );
  }
  for (const s of report.sections) {
    lines.push("");
    lines.push(`## ${s.title}`);
    for (const e of s.extra) {
      lines.push("");
      lines.push(e);
    }
    if (s.notes.length) {
      lines.push("");
      for (const n of s.notes) lines.push(`- ${n}`);
    }
  }
  lines.push("");
  return lines.join("\n");
}

/** The line under a hand-written section's heading that has `npm run bench` carry it over. */
export const KEPT_MARK = "<!-- hand-written: npm run bench keeps this section -->";

/**
 * `fresh` with the hand-written sections of `previous` (each `## ` section whose heading is
 * followed by KEPT_MARK) appended, in their order: the bench rewrites its figures, not the
 * findings people wrote about them.
 */
export function withKeptSections(fresh: string, previous: string | undefined): string {
  if (!previous) return fresh;
  const parts = previous
    .split(/^(?=## )/m)
    .filter((p) => p.startsWith("## ") && p.split("\n")[1]?.trim() === KEPT_MARK);
  if (parts.length === 0) return fresh;
  return `${fresh.trimEnd()}\n\n${parts.map((p) => p.trimEnd()).join("\n\n")}\n`;
}
