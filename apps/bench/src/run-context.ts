/** What a running benchmark writes to and listens to, injected so tests run it in-process. */
import type { Writer } from './live-report.js';

export interface RunContext {
  /** Per-second lines: stdout, or stderr with --json. */
  lines: Writer;
  stderr: Writer;
  /** Draw a progress bar on stderr (a count was given and stderr is a terminal). */
  showProgress: boolean;
  /** Aborted by SIGINT/SIGTERM: stop sending or consuming and print the summary. */
  signal: AbortSignal;
}

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** A short random suffix for group names. */
export function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10);
}
