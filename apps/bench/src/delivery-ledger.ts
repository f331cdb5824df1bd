/**
 * The consuming side's book of what arrived: every body is decoded and checked (bench-body.ts),
 * each (run, sequence) is counted once, and a second arrival is a duplicate, not a message. Seen
 * sequences are a growable bitset per run (one bit per message: 12.5 MB for 100 million), so memory
 * stays bounded by the messages sent, not by the time run.
 */
import { decodeBody, preciseNow } from './bench-body.js';
import type { DecodedBody } from './bench-body.js';
import { Histogram } from './histogram.js';

class SequenceSet {
  private bits = new Uint32Array(1024);

  /** Mark `sequence`; false when it was already marked. */
  add(sequence: number): boolean {
    const word = Math.floor(sequence / 32);
    if (word >= this.bits.length) {
      let length = this.bits.length;
      while (length <= word) length *= 2;
      const grown = new Uint32Array(length);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (sequence % 32);
    const before = this.bits[word]!;
    if ((before & mask) !== 0) return false;
    this.bits[word] = before | mask;
    return true;
  }
}

type CorruptReason = Extract<DecodedBody, { ok: false }>['reason'];

/** What a ledger counted so far. */
export interface LedgerCounts {
  /** Distinct, intact messages. */
  received: number;
  /** Intact messages whose (run, sequence) had arrived before. */
  duplicates: number;
  /** Bodies that failed a check, by reason. */
  corrupt: number;
  corruptByReason: Partial<Record<CorruptReason, number>>;
  /** Intact bench messages of other runs, ignored when the ledger follows one run (e2e). */
  otherRuns: number;
}

export class DeliveryLedger {
  /** Born-to-consume latency of each distinct message, µs. */
  readonly latency = new Histogram();
  private readonly runs = new Map<number, SequenceSet>();
  private readonly counts: LedgerCounts = { received: 0, duplicates: 0, corrupt: 0, corruptByReason: {}, otherRuns: 0 };

  /**
   * @param onlyRun count only this run's messages (e2e: earlier runs on the same topic are not ours)
   * @param now the clock the latency is measured against (epoch ms with a fraction)
   */
  constructor(
    private readonly onlyRun?: number,
    private readonly now: () => number = preciseNow,
  ) {}

  /**
   * Check one consumed body. Answers the born-to-consume latency in µs for a new intact message,
   * or undefined for a duplicate, a corrupt body or another run's message.
   */
  accept(body: Uint8Array): number | undefined {
    const arrived = this.now();
    const decoded = decodeBody(body);
    if (!decoded.ok) {
      this.counts.corrupt++;
      this.counts.corruptByReason[decoded.reason] = (this.counts.corruptByReason[decoded.reason] ?? 0) + 1;
      return undefined;
    }
    if (this.onlyRun !== undefined && decoded.runId !== this.onlyRun) {
      this.counts.otherRuns++;
      return undefined;
    }
    let seen = this.runs.get(decoded.runId);
    if (!seen) {
      seen = new SequenceSet();
      this.runs.set(decoded.runId, seen);
    }
    if (!seen.add(decoded.sequence)) {
      this.counts.duplicates++;
      return undefined;
    }
    this.counts.received++;
    const micros = (arrived - decoded.bornMillis) * 1000;
    this.latency.record(micros);
    return micros;
  }

  snapshot(): LedgerCounts {
    return { ...this.counts, corruptByReason: { ...this.counts.corruptByReason } };
  }

  get received(): number {
    return this.counts.received;
  }
}
