/**
 * Backpressure on handlers: at most `concurrency` handler calls run at once across all
 * queues of a push consumer (RocketMQ's `consumeThreadMax`); work beyond that waits first come,
 * first served.
 *
 * Two ways in: `run(entry, message)` hands a message to the consumer's `work` function once a slot
 * is free, without a promise or closure per message (the hot path: a synchronous handler takes the
 * slot, finishes and gives it back within the same call); `acquire()`/`release()` hold a slot across
 * awaits (orderly consumption). A slot is given back by calling `done` (run) or `release()`.
 */
export type SlotWork<E, M> = (entry: E, message: M, done: () => void) => void;

interface Waiter<E, M> {
  entry: E | undefined;
  message: M | undefined;
  onDone: (() => void) | undefined;
  /** Set for `acquire()` waiters instead of entry/message. */
  resolve: (() => void) | undefined;
}

export class HandlerSlots<E = unknown, M = unknown> {
  private free: number;
  /** FIFO from `head`; compacted when half of it is spent. */
  private waiting: Array<Waiter<E, M> | undefined> = [];
  private head = 0;
  /** Set while `pump` runs, so work finishing inside it does not start a nested pump. */
  private pumping = false;
  readonly release = (): void => {
    this.free++;
    this.pump();
  };

  constructor(
    size: number,
    private readonly work: SlotWork<E, M> = () => undefined,
  ) {
    this.free = size;
  }

  /** Messages waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** Hand `message` to the work function when a slot is free; `onDone` runs after its slot is given back. */
  run(entry: E, message: M, onDone?: () => void): void {
    if (this.free > 0 && !this.pumping && this.waitingCount === 0 && onDone === undefined) {
      this.free--;
      this.work(entry, message, this.release);
      return;
    }
    this.waiting.push({ entry, message, onDone, resolve: undefined });
    this.pump();
  }

  /** Take a slot, waiting for one if none is free; give it back with `release()`. */
  async acquire(): Promise<void> {
    if (this.free > 0 && this.waitingCount === 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => {
      this.waiting.push({ entry: undefined, message: undefined, onDone: undefined, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.free > 0 && this.head < this.waiting.length) {
        const waiter = this.waiting[this.head]!;
        this.waiting[this.head++] = undefined;
        if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
          this.waiting = this.waiting.slice(this.head);
          this.head = 0;
        }
        this.free--;
        if (waiter.resolve) {
          waiter.resolve();
          continue;
        }
        const onDone = waiter.onDone;
        const done =
          onDone === undefined
            ? this.release
            : (): void => {
                this.release();
                onDone();
              };
        this.work(waiter.entry!, waiter.message!, done);
      }
    } finally {
      this.pumping = false;
    }
  }
}
