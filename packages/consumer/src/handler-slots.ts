/**
 * Backpressure on handlers (STYLE 12): at most `concurrency` handler calls run at once across all
 * queues of a push consumer (RocketMQ's `consumeThreadMax`); callers beyond that wait first come,
 * first served.
 */
export class HandlerSlots {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

