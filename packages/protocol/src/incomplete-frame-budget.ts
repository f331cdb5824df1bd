/**
 * One server-wide budget for the bytes held in incomplete frames. A frame is buffered until its last
 * byte arrives, so without a budget a peer that announces large frames and never finishes them holds
 * memory for nothing: 40 connections each sending 15 MiB of a 16 MiB frame held 600 MiB. RocketMQ's
 * Netty decoder (`NettyDecoder`, a `LengthFieldBasedFrameDecoder` of `frameMaxLength`) has the same
 * exposure and no budget.
 *
 * A channel asks for room before it buffers a chunk (`reserve`), counting the chunk as if all of it
 * stayed pending, so the total never passes the limit, even for a moment. When room is short, the
 * holders with the most byte-milliseconds (bytes held × time since their frame began) are closed
 * first: a stuck partial frame grows old, while a well-behaved peer's frame is young and finishes at
 * the speed of its link, so it is the last to go. Each frame is also limited on its own by
 * `maxFrameSize`, checked as soon as its length field arrives. What is counted is the bytes plus
 * `CHUNK_OVERHEAD_BYTES` for each socket read they are held in.
 */

/**
 * What one buffered socket read costs beyond its bytes: the Buffer, its ArrayBuffer and backing
 * store, about 400 bytes in Node 20 (measured: 200,000 one-byte Buffers took 80 MiB of RSS). Counted
 * per read held, so a peer dripping one byte at a time cannot hold 400 times what it is charged.
 */
export const CHUNK_OVERHEAD_BYTES = 512;

/** A connection that may hold an incomplete frame. */
export interface IncompleteFrameHolder {
  /** `Date.now()` when its incomplete frame began; 0 when it holds none. */
  readonly partialSince: number;
  /** Close the connection; the budget has already stopped counting its bytes. */
  evict(reason: string): void;
}

export class IncompleteFrameBudget {
  private readonly held = new Map<IncompleteFrameHolder, number>();
  private total = 0;
  private peak = 0;
  private evictions = 0;

  constructor(readonly limit: number) {}

  /** Bytes held in incomplete frames across all connections now. */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Highest `bufferedBytes` seen. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Connections closed to stay within the limit. */
  get evicted(): number {
    return this.evictions;
  }

  /**
   * Make room for `holder` to hold `bytes` in total, closing the heaviest holders (`holder` itself
   * among them) until it fits. Returns false when `holder` was closed: drop what it sent.
   */
  reserve(holder: IncompleteFrameHolder, bytes: number): boolean {
    const now = Date.now();
    while (this.total - (this.held.get(holder) ?? 0) + bytes > this.limit) {
      const victim = this.heaviest(holder, bytes, now);
      const victimBytes = victim === holder ? bytes : (this.held.get(victim) ?? 0);
      const reason = `${victimBytes} bytes counted (${CHUNK_OVERHEAD_BYTES} per socket read on top of the bytes) for an incomplete frame held ${now - (victim.partialSince || now)} ms, while incomplete frames of all connections reached ${this.total - (this.held.get(holder) ?? 0) + bytes} bytes (maxBufferedIncompleteFrameBytes ${this.limit}); the heaviest are closed first`;
      this.set(victim, 0);
      this.evictions++;
      victim.evict(reason);
      if (victim === holder) return false;
    }
    return true;
  }

  /** `holder` now holds `bytes` in an incomplete frame (0: none, e.g. once closed). */
  set(holder: IncompleteFrameHolder, bytes: number): void {
    const before = this.held.get(holder) ?? 0;
    if (bytes === before) return;
    this.total += bytes - before;
    if (bytes === 0) this.held.delete(holder);
    else this.held.set(holder, bytes);
    if (this.total > this.peak) this.peak = this.total;
  }

  /** The holder with the most byte-milliseconds, counting `asking` with the `bytes` it asks for. */
  private heaviest(asking: IncompleteFrameHolder, bytes: number, now: number): IncompleteFrameHolder {
    let best = asking;
    let bestWeight = weight(bytes, asking.partialSince, now);
    for (const [holder, held] of this.held) {
      if (holder === asking) continue;
      const w = weight(held, holder.partialSince, now);
      if (w > bestWeight) {
        best = holder;
        bestWeight = w;
      }
    }
    return best;
  }
}

/** Bytes × age, the age counted from 1 ms so that equally young frames compare by size. */
function weight(bytes: number, since: number, now: number): number {
  return bytes * Math.max(1, since === 0 ? 1 : now - since + 1);
}
