/**
 * When rebalancing runs (RocketMQ `RebalanceService`): every `rebalanceInterval` (20 s), and
 * at once when woken (consumer start, NOTIFY_CONSUMER_IDS_CHANGED, an unreachable broker, an
 * illegal offset), never two at a time and never closer than `minGapMillis` (1 s). Wake-ups during
 * a run are folded into one more run after it. A run that answers `false` (not balanced yet: an
 * orderly queue's broker lock was refused because its last owner had not let go) is followed by
 * another after `minGapMillis` instead of the interval, as RocketMQ 5.x's `RebalanceService` does.
 */
export class RebalanceService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private lastRun = 0;
  private stopped = true;

  constructor(
    private readonly run: () => Promise<boolean | void>,
    private readonly intervalMillis: number,
    private readonly minGapMillis: number,
  ) {}

  /** Start the schedule with one run now; resolves when that first run is done. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.runNow();
  }

  /** Ask for a run soon (after the current one, and at least `minGapMillis` after the last). */
  wakeup(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    const wait = Math.max(0, this.lastRun + this.minGapMillis - Date.now());
    this.schedule(wait);
  }

  /** Stop scheduling and wait for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(wait: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runNow(), wait);
    this.timer.unref();
  }

  private async runNow(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.lastRun = Date.now();
    this.running = this.run()
      .catch(() => undefined)
      .then((balanced) => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.pending || balanced === false) {
          this.pending = false;
          this.schedule(this.minGapMillis);
        } else {
          this.schedule(this.intervalMillis);
        }
      });
    return this.running;
  }
}

/** Resolve after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
