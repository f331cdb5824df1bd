/**
 * Reports refusals (and protective closes) once per kind and address per interval: the first at
 * once, the rest counted and summed up in one line when the interval ends. A flood of 10,000
 * sockets from one address is then two log lines, not 10,000, while each address and each kind of
 * refusal is still named.
 */
import { KarmanError } from './errors.js';
import type { KarmanErrorCode } from './errors.js';

interface Pending {
  code: KarmanErrorCode;
  address: string;
  /** Refusals after the first in this interval. */
  more: number;
  /** What the summary says about them, e.g. "connections refused (maxConnectionsPerAddress 1000)". */
  what: string;
}

export class RefusalLog {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMillis: number,
    private readonly report: (error: Error) => void,
  ) {}

  /**
   * One refusal of kind `code` from `address`. `first` is the full message, reported when it is the
   * first of its kind and address in this interval; `what` names the rest in the summary.
   */
  note(code: KarmanErrorCode, address: string, first: () => string, what: string): void {
    const key = `${code} ${address}`;
    const entry = this.pending.get(key);
    if (entry !== undefined) {
      entry.more++;
      return;
    }
    this.pending.set(key, { code, address, more: 0, what });
    this.report(new KarmanError(code, `${first()} (further ones from ${address} are summed up every ${this.intervalMillis} ms)`));
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.intervalMillis);
      this.timer.unref();
    }
  }

  /** Report the sums of the interval now ending; stop the timer. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const { code, address, more, what } of entries) {
      if (more > 0) this.report(new KarmanError(code, `${more} more ${what} from ${address} since the first (summed up every ${this.intervalMillis} ms)`));
    }
  }
}
