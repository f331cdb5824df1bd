/**
 * Request correlation, kept apart from the connection that carries the bytes: a table
 * maps a request's `opaque` to the promise its caller awaits, with that request's timer. The
 * connection only tells the table "this response arrived" or "everything is lost"; whoever owns the
 * table decides what a drop means (the client reconnects, a server connection is gone for good).
 *
 * RocketMQ keeps the same map (`NettyRemotingAbstract.responseTable`) but sweeps it once a second;
 * a timer per request costs little in Node and times a request out on the millisecond.
 */
import { InvalidArgumentError, KarmanError, RequestTimeoutError } from './errors.js';
import type { ConnectionClosedError } from './errors.js';
import type { RemotingCommand } from './remoting-command.js';

interface PendingRequest {
  readonly code: number;
  readonly resolve: (response: RemotingCommand) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/** The error a request rejects with when its AbortSignal fires: the signal's reason when it is an Error. */
export function abortReason(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new KarmanError('ABORTED', `${what} was aborted${reason === undefined ? '' : `: ${String(reason)}`}`);
}

/** Pending requests of one peer, by opaque. */
export class RequestTable {
  private readonly pending = new Map<number, PendingRequest>();
  private readonly address: () => string;
  /** Called after any entry leaves the table (answered, timed out, aborted, rejected). */
  onRemoved: (() => void) | undefined;

  /** `address` names the peer in timeout and close errors; a function because a client's peer changes on reconnect. */
  constructor(address: () => string) {
    this.address = address;
  }

  /** Requests awaiting a response. */
  get size(): number {
    return this.pending.size;
  }

  has(opaque: number): boolean {
    return this.pending.has(opaque);
  }

  /**
   * Register `request` and return the promise of its response. Rejects with `RequestTimeoutError`
   * after `remainingMillis` (default `timeoutMillis`; less when part of the timeout was spent
   * waiting in line, while the error still names the whole `timeoutMillis`), or with the signal's
   * reason when `signal` aborts first.
   */
  add(request: RemotingCommand, timeoutMillis: number, signal?: AbortSignal, remainingMillis = timeoutMillis): Promise<RemotingCommand> {
    const opaque = request.opaque;
    if (this.pending.has(opaque)) {
      return Promise.reject(
        new InvalidArgumentError(`a request with opaque ${opaque} is already awaiting a response; build each request with createRequest() so it gets a fresh opaque`),
      );
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal, `request ${request.code}`));
    return new Promise<RemotingCommand>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.remove(opaque)) reject(new RequestTimeoutError(this.address(), request.code, timeoutMillis));
      }, Math.max(0, remainingMillis));
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => {
          if (this.remove(opaque)) reject(abortReason(signal, `request ${request.code}`));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.pending.set(opaque, { code: request.code, resolve, reject, timer, signal, onAbort });
    });
  }

  /** Hand a response to the request it answers. False when no request awaits that opaque (late or unknown). */
  settle(response: RemotingCommand): boolean {
    const entry = this.pending.get(response.opaque);
    if (!entry) return false;
    this.remove(response.opaque);
    entry.resolve(response);
    return true;
  }

  /** Reject one request (e.g. its frame could not be written). */
  reject(opaque: number, error: Error): void {
    const entry = this.pending.get(opaque);
    if (!entry) return;
    this.remove(opaque);
    entry.reject(error);
  }

  /** Reject every pending request, e.g. with `ConnectionClosedError` when the connection drops. */
  rejectAll(error: ConnectionClosedError | Error): void {
    const entries = [...this.pending.values()];
    for (const entry of entries) this.release(entry);
    this.pending.clear();
    for (const entry of entries) entry.reject(error);
    if (entries.length > 0) this.onRemoved?.();
  }

  private remove(opaque: number): boolean {
    const entry = this.pending.get(opaque);
    if (!entry) return false;
    this.pending.delete(opaque);
    this.release(entry);
    this.onRemoved?.();
    return true;
  }

  private release(entry: PendingRequest): void {
    clearTimeout(entry.timer);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
  }
}
