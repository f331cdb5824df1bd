/**
 * What a benchmark prints while it runs: one line per second (rate, average and max latency of
 * that second, running totals) and, when a count was given and stderr is a terminal, a progress bar
 * on stderr that the lines are printed above.
 */

/** Where the benchmark writes. */
export interface Writer {
  write(text: string): unknown;
}

/** Counts and latencies of one second, reset when read. */
export class SecondWindow {
  private ok = 0;
  private failed = 0;
  private sum = 0;
  private max = 0;

  /** One success with its latency, µs. */
  record(micros: number, messages = 1): void {
    this.ok += messages;
    this.sum += micros * messages;
    if (micros > this.max) this.max = micros;
  }

  fail(messages = 1): void {
    this.failed += messages;
  }

  /** This window's figures; starts the next. */
  take(): { ok: number; failed: number; avgMicros: number; maxMicros: number } {
    const taken = { ok: this.ok, failed: this.failed, avgMicros: this.ok === 0 ? 0 : this.sum / this.ok, maxMicros: this.max };
    this.ok = 0;
    this.failed = 0;
    this.sum = 0;
    this.max = 0;
    return taken;
  }
}

/** `12,345` */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** µs as `1.234 ms`, `123.4 ms` or `12.35 s`, keeping about four significant digits. */
export function formatMillis(micros: number): string {
  const millis = micros / 1000;
  if (millis < 10) return `${millis.toFixed(3)} ms`;
  if (millis < 1000) return `${millis.toFixed(1)} ms`;
  return `${(millis / 1000).toFixed(2)} s`;
}

function progressBar(done: number, total: number, width = 30): string {
  const fraction = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}% ${formatCount(done)}/${formatCount(total)}`;
}

export interface LiveReportOptions {
  /** Per-second lines go here (stdout, or stderr with --json). */
  lines: Writer;
  stderr: Writer;
  /** Draw the bar: a count was given and stderr is a terminal. */
  progress: { total: number; done: () => number } | undefined;
  /** Builds the line for the second that just ended; `elapsedSeconds` since the start. */
  line: (elapsedSeconds: number) => string;
  intervalMillis?: number;
}

/** Starts the ticker; `stop()` prints nothing more and clears the bar. */
export function startLiveReport(options: LiveReportOptions): { stop(): void } {
  const started = performance.now();
  const drawBar = (): void => {
    if (options.progress) options.stderr.write(`\r\x1b[K${progressBar(options.progress.done(), options.progress.total)}`);
  };
  const clearBar = (): void => {
    if (options.progress) options.stderr.write('\r\x1b[K');
  };
  const tick = setInterval(() => {
    const elapsed = Math.round((performance.now() - started) / 1000);
    clearBar();
    options.lines.write(`${options.line(elapsed)}\n`);
    drawBar();
  }, options.intervalMillis ?? 1_000);
  // Redraw the bar between lines so it moves more than once a second.
  const bar = options.progress ? setInterval(drawBar, 200) : undefined;
  drawBar();
  return {
    stop(): void {
      clearInterval(tick);
      clearInterval(bar);
      clearBar();
    },
  };
}
