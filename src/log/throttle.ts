/**
 * Lets the first event of each kind through, then at most one per window, saying how many
 * were held back meanwhile. Pure: the caller gives the time. A Redis outage makes every
 * connection fail every few seconds; the log needs the first line and a heartbeat, not all.
 */
export class Throttle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKinds = 200,
  ) {}

  /** undefined: hold this one back. A number: let it through; that many were held back since the last. */
  pass(kind: string, now: number): number | undefined {
    const seen = this.last.get(kind);
    if (seen && now - seen.at < this.windowMs) {
      seen.held++;
      return undefined;
    }
    if (!seen && this.last.size >= this.maxKinds) this.last.delete(this.last.keys().next().value!);
    this.last.set(kind, { at: now, held: 0 });
    return seen?.held ?? 0;
  }
}
