/**
 * The import's progress on stderr: a bar redrawn in place on a terminal, plain lines every
 * few seconds otherwise (a Heroku one-off dyno's log, a pipe).
 */

export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface Progress {
  update(done: number): void;
  finish(done: number): void;
}

/** The bar's text (pure): `[#####.....]  512/1000  51%  48.2/s`. */
export function progressText(done: number, total: number, perSecond: number, width = 30): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * width);
  const pct = `${Math.floor(share * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total} ${pct} ${perSecond.toFixed(1)}/s`;
}

export function createProgress(
  sink: ProgressSink,
  total: number,
  opts: { lineEveryMs?: number; now?: () => number } = {},
): Progress {
  const now = opts.now ?? Date.now;
  const started = now();
  const tty = sink.isTTY === true;
  const every = tty ? 100 : (opts.lineEveryMs ?? 5000);
  let last = 0;
  const rate = (done: number) => done / Math.max(0.001, (now() - started) / 1000);
  const draw = (done: number) =>
    sink.write(
      tty ? `\r${progressText(done, total, rate(done))}` : `import: ${progressText(done, total, rate(done), 20)}\n`,
    );
  return {
    update(done) {
      const t = now();
      if (t - last < every) return;
      last = t;
      draw(done);
    },
    finish(done) {
      draw(done);
      if (tty) sink.write("\n");
    },
  };
}
