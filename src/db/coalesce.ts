/**
 * Concurrent calls share one statement. The calls made in one turn of the event loop go out
 * together at its end; while a batch is being written, the calls that arrive gather and go
 * out together as the next batch. A quiet process writes each call within a turn, a busy one
 * many per round trip. Every caller still waits for its own rows.
 *
 * On a 2-core worker each statement costs more in socket writes and driver work than in
 * Postgres, so the nightly jobs' per-job statements (grant read, run start, claims, marks,
 * run finish) go through one of these each.
 *
 * A batch that fails is retried call by call, so one call's bad row (a grant deleted
 * mid-run, say) fails only that call: one grant's trouble stays with that grant.
 */
export class Coalescer<I, O> {
  private pending: { items: I[]; resolve: (out: O[]) => void; reject: (err: unknown) => void }[] = [];
  private writing = false;
  private scheduled = false;

  /**
   * @param write writes a batch and returns one result per item, in order.
   * @param maxItems most items in one batch (a single larger call still goes alone).
   */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxItems = 500,
  ) {}

  run(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      if (this.writing || this.scheduled) return;
      // The first call waits for the end of this turn of the event loop: every call made in
      // the same turn (a busy worker finishes many steps per turn) joins its statement.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.drain();
      });
    });
  }

  async one(item: I): Promise<O> {
    return (await this.run([item]))[0]!;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const calls = [this.pending.shift()!];
        let n = calls[0]!.items.length;
        while (this.pending.length > 0 && n + this.pending[0]!.items.length <= this.maxItems) {
          const next = this.pending.shift()!;
          calls.push(next);
          n += next.items.length;
        }
        await this.writeCalls(calls);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeCalls(calls: typeof this.pending): Promise<void> {
    let out: O[];
    try {
      out = await this.write(calls.flatMap((c) => c.items));
    } catch (err) {
      if (calls.length === 1) {
        calls[0]!.reject(err);
        return;
      }
      for (const c of calls) await this.writeCalls([c]);
      return;
    }
    let k = 0;
    for (const c of calls) {
      c.resolve(out.slice(k, k + c.items.length));
      k += c.items.length;
    }
  }
}
