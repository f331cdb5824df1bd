/**
 * What `karman-bench compare` runs against each system, and what it gets back. Every driver runs
 * the same three phases with the same 1 KiB (by default) payload: publish `count` messages with
 * `window` (1000) in flight, consume them all, then `latencyCount` one-at-a-time publish→ack round
 * trips. A driver that cannot reach its server throws `PeerUnavailableError`, and compare skips it.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { KarmanError } from '@karman/protocol';

export interface Workload {
  count: number;
  size: number;
  /** Messages (or Karman sends) in flight while publishing. */
  window: number;
  latencyCount: number;
  /** Unique per compare run: names every stream, key, queue and topic it creates. */
  runTag: string;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** CPU use of one phase, percent of one core (200 % = both cores of a 2-core machine). */
export interface PhaseCpu {
  client: number;
  /** The server process(es), when their pid could be found. */
  server: number | undefined;
}

/** One row of the comparison. */
export interface PeerRow {
  system: string;
  /** A shorter name for column headers and chart legends (Karman's rows). */
  shortName?: string;
  publishPerSecond: number;
  consumePerSecond: number;
  latencyP50Us: number;
  latencyP99Us: number;
  /** Messages acknowledged by the server while publishing. */
  published: number;
  /** Messages read back (each checked for its size, and for Karman its checksum). */
  consumed: number;
  /** Failed publishes (nacks, errors) and bad or missing messages, when any. */
  problems: string[];
  cpu: { publish: PhaseCpu; consume: PhaseCpu };
  /** How the server was configured, e.g. "AOF appendfsync everysec". */
  notes: string[];
}

export interface PeerDriver {
  /** `nats`, as in --only. */
  name: string;
  run(workload: Workload): Promise<PeerRow[]>;
}

/** The server was not reachable; the message says at which address and how to point elsewhere. */
export class PeerUnavailableError extends KarmanError {
  override readonly name = 'PeerUnavailableError';
  constructor(message: string, cause?: unknown) {
    super('PEER_UNAVAILABLE', message, { cause });
  }
}

/** Exact p50 and p99 of samples (µs), by the ceil(p·n)-th smallest rule. */
export function percentiles(samples: Float64Array): { p50: number; p99: number; max: number } {
  if (samples.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => Math.round(sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted[sorted.length - 1]!) };
}

/** `count` one-at-a-time round trips of `once`, each timed in µs. */
export async function timeRoundTrips(count: number, once: () => Promise<unknown>): Promise<Float64Array> {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await once();
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return samples;
}

/**
 * Start `count` operations with at most `window` unfinished (the peerbench scripts' sliding
 * window); resolves once all have finished, with how many failed and the first error.
 */
export async function slidingWindow(count: number, window: number, start: (index: number) => Promise<unknown>): Promise<{ failed: number; firstError: unknown }> {
  let inFlight = 0;
  let failed = 0;
  let firstError: unknown;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    inFlight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (let i = 0; i < count; i++) {
    while (inFlight >= window) await new Promise<void>((resolve) => (wake = resolve));
    inFlight++;
    start(i).then(settle, (error: unknown) => {
      failed++;
      firstError ??= error;
      settle();
    });
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  return { failed, firstError };
}

/** Measures wall time and CPU (this process, and a server pid when known) of one phase. */
export function meter(serverPids: readonly number[] = []): () => { seconds: number; cpu: PhaseCpu } {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const server = processCpuSeconds(serverPids);
  return () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    const serverNow = processCpuSeconds(serverPids);
    return {
      seconds,
      cpu: {
        client: Math.round(((used.user + used.system) / 1e6 / seconds) * 1000) / 10,
        server: server === undefined || serverNow === undefined ? undefined : Math.round(((serverNow - server) / seconds) * 1000) / 10,
      },
    };
  };
}

/** utime + stime of the processes (and their threads), seconds, from /proc; undefined when unreadable. */
export function processCpuSeconds(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  try {
    let total = 0;
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // CLK_TCK is 100 on Linux
    }
    return total;
  } catch {
    return undefined;
  }
}

/**
 * The pid listening on a local TCP port, found through /proc/net/tcp{,6} and each process's fds,
 * so the server's CPU can be reported; undefined when not found (another user's process, no /proc).
 */
export function pidListeningOn(port: number): number | undefined {
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10 || f[3] !== '0A') continue; // 0A: LISTEN
        if (parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
          const m = /^socket:\[(\d+)\]$/.exec(target);
          if (m && inodes.has(m[1]!)) return Number(entry);
        } catch {
          // fd closed meanwhile
        }
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** An error as one short phrase (its code and message), for skip notices and problems. */
export function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e?.code && !String(e.message ?? '').includes(e.code) ? `${e.code}: ${e.message}` : String(e?.message ?? error);
}
