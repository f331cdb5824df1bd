/**
 * A frame channel carries remoting commands over one socket, either transport, and knows nothing of
 * requests or handlers: it decodes what arrives, encodes what is sent, reports how much is waiting to
 * be written, and says once why it closed. The server and the client both build on it.
 *
 * TCP: frames back to back, split by `FrameDecoder`. The first frame of a tick goes out as it is (a
 * large body as a second write, never copied); further frames in the same tick are encoded one after
 * another into one batch buffer, written once when the tick ends or FLUSH_BYTES have gathered: a
 * socket write and a Buffer per frame were the largest costs of a pipelining sender. Either
 * transport corks its socket for the rest of the tick on the first send, so what is sent in one tick
 * leaves in a single writev.
 * WebSocket: one frame per binary message, decoded whole by `decodeFrame`. A text message or a bad
 * frame closes the connection with 1002 (protocol error); `ws` itself closes with 1009 when a
 * message exceeds `maxPayload` (set to the frame limit).
 *
 * Bad input closes only this channel, with a reason; every socket and WebSocket error is caught
 * here, so no peer can raise an uncaught exception in the process.
 *
 * On a server, the bytes of an unfinished frame count against one budget shared by every
 * connection (`IncompleteFrameBudget`), asked before a socket read is buffered, and a frame must
 * complete within `frameCompleteTimeoutMillis` of its first byte; a channel closed for either is
 * not read any further.
 */
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { ConnectionClosedError, KarmanError, ProtocolError } from './errors.js';
import { CHUNK_OVERHEAD_BYTES } from './incomplete-frame-budget.js';
import type { IncompleteFrameBudget, IncompleteFrameHolder } from './incomplete-frame-budget.js';
import { DEFAULT_MAX_FRAME_SIZE } from './remoting-command.js';
import { FrameDecoder, decodeFrame, encodeFrame, encodeFrameParts, writeFrame } from './frame-codec.js';
import type { RemotingCommand } from './remoting-command.js';
import type { FrameLimits } from './frame-codec.js';

/** Which transport a channel runs on. */
export const Transport = { WS: 'ws', TCP: 'tcp' } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** How long a closing WebSocket may take to finish its close handshake before it is cut. */
const WS_CLOSE_GRACE_MILLIS = 1000;
/** WebSocket close codes (RFC 6455 §7.4.1). */
const WS_GOING_AWAY = 1001;
const WS_PROTOCOL_ERROR = 1002;
const WS_SEND_OPTIONS = { binary: true, compress: false } as const;
/** Bytes gathered under one cork before they are flushed anyway (about what 64 frames of 1 KiB make). */
const FLUSH_BYTES = 64 * 1024;
/** Size of a TCP batch buffer; a frame that does not fit in a fresh one is written on its own. */
const BATCH_BYTES = FLUSH_BYTES + 16 * 1024;
/** Bodies up to this size are copied behind their header (one write); larger ones go as a write of their own. */
const INLINE_BODY_BYTES = 16 * 1024;

export interface FrameChannelOptions extends FrameLimits {
  /**
   * Buffered outgoing bytes above which `writable` turns false (and a server stops reading). At
   * least 16 KiB, the socket's own high-water mark: below it the socket never emits 'drain'.
   */
  highWaterMark: number;
  /** Stop reading from the peer while our outgoing buffer is above the high-water mark (server side). */
  pauseReadsWhenBlocked: boolean;
  /** Each decoded command. Must not throw. */
  onCommand: (command: RemotingCommand) => void;
  /** Called once when the channel closes: the reason and the error behind it, if any. */
  onClose: (reason: string, error?: Error) => void;
  /** Server side: the budget shared by every connection's incomplete frames. */
  incompleteFrames?: IncompleteFrameBudget;
  /** Server side: close the channel when a frame has not completed this long after its first byte. */
  frameCompleteTimeoutMillis?: number;
}

/** Error codes of the closes that protect the server from incomplete frames. */
export const INCOMPLETE_FRAME_BUDGET = 'INCOMPLETE_FRAME_BUDGET';
export const FRAME_TIMEOUT = 'FRAME_TIMEOUT';

/** One socket carrying remoting frames. */
export abstract class FrameChannel implements IncompleteFrameHolder {
  abstract readonly transport: Transport;
  /** "ip:port" of the peer. */
  readonly remoteAddress: string;
  /** `Date.now()` when a frame last arrived or was sent; the server's idle check reads it. */
  lastActivity = Date.now();
  /** `Date.now()` when the frame now arriving began; 0 between frames. */
  partialSince = 0;
  /** Bytes of the incomplete frame, and the socket reads they are held in. */
  private partialBytes = 0;
  private partialChunks = 0;
  private frameTimer: NodeJS.Timeout | undefined;
  private closeReason: string | undefined;
  private drainWaiters: Array<() => void> = [];
  private readingPaused = false;
  private corked = false;
  /** `socket.writableLength` when the current cork began. */
  private lengthAtCork = 0;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.flush();
    this.socket.uncork();
  };
  private readonly endTick = (): void => {
    this.uncork();
    this.tickEnded();
  };
  protected readonly options: FrameChannelOptions;
  /** The TCP socket underneath (for WebSocket, the upgraded socket): corked per tick, watched for 'drain'. */
  protected readonly socket: Socket;

  protected constructor(socket: Socket, options: FrameChannelOptions) {
    this.remoteAddress = peerAddress(socket);
    this.socket = socket;
    this.options = options;
    socket.on('drain', () => this.drained());
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Begin delivering commands; call once the owner is ready for `onCommand`/`onClose`. */
  start(): void {}

  /** Bytes accepted by `send` but not yet handed to the kernel. */
  abstract get bufferedAmount(): number;

  /** False while the outgoing buffer is above the high-water mark; wait with `whenWritable()`. */
  get writable(): boolean {
    return this.bufferedAmount <= this.options.highWaterMark;
  }

  /** Resolves once the outgoing buffer is at or below the high-water mark, or the channel closed. */
  whenWritable(): Promise<void> {
    if (this.closed || this.writable) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Encode and queue one command. Throws `ConnectionClosedError` when the channel is closed. */
  send(command: RemotingCommand): void {
    if (this.closeReason !== undefined) throw new ConnectionClosedError(this.remoteAddress, this.closeReason);
    if (!this.corked) {
      // Frames sent in the same tick leave in one writev: a pipelining peer pays one syscall per
      // batch instead of one per frame, the biggest per-message cost on this path.
      this.corked = true;
      this.lengthAtCork = this.bufferedAmount;
      this.socket.cork();
      process.nextTick(this.endTick);
      // Once per tick is precise enough for an idle check counted in seconds.
      this.lastActivity = Date.now();
    }
    this.write(command);
    // A long burst in one tick is flushed every FLUSH_BYTES rather than at its end, so the peer
    // starts reading while we are still encoding instead of the two taking turns.
    if (this.bufferedAmount - this.lengthAtCork >= FLUSH_BYTES) this.uncork();
    if (this.options.pauseReadsWhenBlocked && !this.readingPaused && !this.writable) {
      // The peer sends faster than it reads our answers: stop reading until it catches up, so our
      // buffer of answers stays bounded.
      this.readingPaused = true;
      this.pauseReading();
    }
  }

  /** Close the channel; `reason` is passed to `onClose` and to errors of later sends. Idempotent. */
  close(reason: string, error?: Error): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.dropPartialFrame();
    this.shutdown(reason, error !== undefined);
    this.releaseDrainWaiters();
    this.options.onClose(reason, error);
  }

  protected abstract write(command: RemotingCommand): void;
  /** Hand frames held back by `write` to the socket. */
  protected flush(): void {}
  /** The tick in which frames were sent has ended (after the last flush). */
  protected tickEnded(): void {}
  protected abstract pauseReading(): void;
  protected abstract resumeReading(): void;
  /** Release the socket; `failed` when closing because of bad input or an error. */
  protected abstract shutdown(reason: string, failed: boolean): void;

  /** Closed by the incomplete-frame budget (see `IncompleteFrameBudget`). */
  evict(reason: string): void {
    this.closeUnread(reason, new KarmanError(INCOMPLETE_FRAME_BUDGET, reason));
  }

  /**
   * Close a peer that holds memory with unfinished frames, and read nothing more from it: a
   * WebSocket would otherwise go on buffering what it sends while waiting for its close reply.
   */
  private closeUnread(reason: string, error: Error): void {
    this.close(reason, error);
    this.pauseReading();
  }

  /**
   * A socket read of `bytes` is about to be buffered on top of the incomplete frame, which is then
   * at most `upTo` bytes. False when the budget closed this channel instead: drop the bytes.
   */
  protected admit(bytes: number, upTo: number): boolean {
    const budget = this.options.incompleteFrames;
    if (budget === undefined) return true;
    const chunks = this.partialChunks + 1;
    return budget.reserve(this, Math.min(this.partialBytes + bytes, upTo) + chunks * CHUNK_OVERHEAD_BYTES);
  }

  /**
   * The incomplete frame now holds `pending` bytes in `chunks` socket reads; `frameEnded` when a
   * frame completed since the last call, so what is pending now (if anything) is a new frame.
   */
  protected partialFrame(pending: number, chunks: number, frameEnded: boolean): void {
    if (this.closed) return;
    this.partialBytes = pending;
    this.partialChunks = pending === 0 ? 0 : chunks;
    this.options.incompleteFrames?.set(this, pending === 0 ? 0 : pending + chunks * CHUNK_OVERHEAD_BYTES);
    if (pending === 0) {
      this.partialSince = 0;
      return;
    }
    if (frameEnded || this.partialSince === 0) this.partialSince = Date.now();
    const timeout = this.options.frameCompleteTimeoutMillis;
    if (timeout !== undefined && this.frameTimer === undefined) this.armFrameTimer(timeout);
  }

  private armFrameTimer(delay: number): void {
    // One timer per channel, re-armed only when it fires: frames that come and go between firings
    // cost a timestamp, not a timer each.
    this.frameTimer = setTimeout(() => {
      this.frameTimer = undefined;
      if (this.closed || this.partialSince === 0) return;
      const timeout = this.options.frameCompleteTimeoutMillis!;
      const age = Date.now() - this.partialSince;
      if (age < timeout) {
        this.armFrameTimer(timeout - age);
        return;
      }
      const reason = `a frame did not complete within ${age} ms (frameCompleteTimeoutMillis ${timeout}); ${this.partialBytes} bytes of it had arrived`;
      this.closeUnread(reason, new KarmanError(FRAME_TIMEOUT, reason));
    }, delay);
    this.frameTimer.unref();
  }

  private dropPartialFrame(): void {
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    this.partialSince = 0;
    this.partialBytes = 0;
    this.partialChunks = 0;
    this.options.incompleteFrames?.set(this, 0);
  }

  /** Hand one decoded command to the owner. */
  protected deliver(command: RemotingCommand): void {
    this.lastActivity = Date.now();
    try {
      this.options.onCommand(command);
    } catch (error) {
      // onCommand must not throw; if it does anyway, lose this connection rather than the process.
      this.close(`internal error handling a frame: ${(error as Error).message}`, error as Error);
    }
  }

  /** The socket drained: resume reading and wake senders waiting for room. */
  protected drained(): void {
    if (this.readingPaused && this.writable) {
      this.readingPaused = false;
      this.resumeReading();
    }
    if (this.writable) this.releaseDrainWaiters();
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** "ip:port" of a socket's peer. */
export function peerAddress(socket: Socket): string {
  const ip = socket.remoteAddress ?? 'unknown';
  return `${ip.includes(':') ? `[${ip}]` : ip}:${socket.remotePort ?? 0}`;
}

/** Remoting frames back to back on a raw TCP socket. */
export class TcpFrameChannel extends FrameChannel {
  readonly transport = Transport.TCP;
  private readonly decoder: FrameDecoder;
  private initial: Buffer | undefined;
  /** Frames sent this tick so far; the first is written alone, later ones are batched. */
  private framesThisTick = 0;
  /** The batch buffer: bytes [batchStart, batchEnd) are encoded frames not yet written. */
  private batch: Buffer | undefined;
  private batchStart = 0;
  private batchEnd = 0;

  /** `initial` holds bytes already read from the socket (by the protocol sniffer); they are decoded by `start()`. */
  constructor(socket: Socket, options: FrameChannelOptions, initial?: Buffer) {
    super(socket, options);
    this.decoder = new FrameDecoder({ maxFrameSize: options.maxFrameSize, maxHeaderSize: options.maxHeaderSize });
    socket.setNoDelay(true);
    socket.on('error', (error) => this.close(`socket error: ${error.message}`, error));
    socket.on('close', () => this.close('the peer closed the connection'));
    this.initial = initial;
  }

  override start(): void {
    const initial = this.initial;
    this.initial = undefined;
    if (initial && initial.length > 0) this.receive(initial);
    if (this.closed) return;
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.resume();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength + this.batchEnd - this.batchStart;
  }

  protected write(command: RemotingCommand): void {
    const bodyLength = command.body?.length ?? 0;
    // One frame in a tick (a request, an answer) is not worth a batch buffer; nor is a large body.
    if (this.framesThisTick++ === 0 || bodyLength > INLINE_BODY_BYTES) {
      this.writeAlone(command, bodyLength);
      return;
    }
    if (this.batch !== undefined) {
      const end = writeFrame(command, this.batch, this.batchEnd);
      if (end >= 0) {
        this.batchEnd = end;
        return;
      }
      this.flush();
    }
    // The bytes of a flushed batch belong to the socket until written, so a fresh buffer each time.
    this.batch = Buffer.allocUnsafe(BATCH_BYTES);
    this.batchStart = this.batchEnd = 0;
    const end = writeFrame(command, this.batch, 0);
    if (end >= 0) this.batchEnd = end;
    else this.writeAlone(command, bodyLength);
  }

  private writeAlone(command: RemotingCommand, bodyLength: number): void {
    this.flush();
    if (bodyLength <= INLINE_BODY_BYTES) {
      this.socket.write(encodeFrame(command));
      return;
    }
    const [head, body] = encodeFrameParts(command);
    // The socket is corked (see send), so head and body leave together in one writev without
    // copying the body.
    this.socket.write(head);
    this.socket.write(body!);
  }

  protected override flush(): void {
    if (this.batchEnd === this.batchStart) return;
    const bytes = this.batch!.subarray(this.batchStart, this.batchEnd);
    this.batchStart = this.batchEnd;
    this.socket.write(bytes);
  }

  protected override tickEnded(): void {
    // An idle connection keeps no buffer: what is left of this one is dropped with the tick.
    this.framesThisTick = 0;
    this.batch = undefined;
    this.batchStart = this.batchEnd = 0;
  }

  protected pauseReading(): void {
    this.socket.pause();
  }

  protected resumeReading(): void {
    this.socket.resume();
  }

  protected shutdown(): void {
    const socket = this.socket;
    // Frames batched before the close still go out (answers to the requests before a bad one).
    if (!socket.destroyed) this.flush();
    this.tickEnded();
    if (socket.destroyed) return;
    socket.pause();
    if (socket.writableLength === 0) {
      socket.destroy();
      return;
    }
    // Let frames already queued (answers to the requests before a bad one) reach the peer, but
    // never wait on it for long.
    socket.end();
    setTimeout(() => socket.destroy(), WS_CLOSE_GRACE_MILLIS).unref();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    // After the push the decoder holds at most one frame short of its last byte.
    if (!this.admit(chunk.length, this.options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE)) return;
    let commands: RemotingCommand[];
    try {
      commands = this.decoder.push(chunk);
    } catch (error) {
      // A bad frame leaves the stream unsynchronised: nothing after it can be trusted.
      this.close(`bad frame: ${(error as Error).message}`, error as Error);
      return;
    }
    this.partialFrame(this.decoder.pendingBytes, this.decoder.pendingChunks, commands.length > 0);
    for (const command of commands) {
      if (this.closed) return;
      this.deliver(command);
    }
  }
}

/** One remoting frame per binary WebSocket message. */
export class WsFrameChannel extends FrameChannel {
  readonly transport = Transport.WS;
  private readonly ws: WebSocket;
  /** Socket bytes since the last whole message, and the reads they came in (see the constructor). */
  private wsPending = 0;
  private wsChunks = 0;

  /** `socket` is the WebSocket's underlying TCP socket. */
  constructor(ws: WebSocket, socket: Socket, options: FrameChannelOptions) {
    super(socket, options);
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    if (options.incompleteFrames !== undefined || options.frameCompleteTimeoutMillis !== undefined) {
      // \`ws\` buffers a message until it is whole and says nothing of it, so the bytes of the socket
      // since the last message, ping or pong stand for the incomplete frame. Counted before \`ws\` reads
      // them (prepended), so the budget can refuse them; bytes of the next message that share a read
      // with the end of the last one are not counted (at most one socket read, 64 KiB).
      socket.prependListener('data', (chunk: Buffer) => this.arriving(chunk));
      const between = (): void => this.partialFrame((this.wsPending = this.wsChunks = 0), 0, true);
      ws.on('ping', between);
      ws.on('pong', between);
    }
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('error', (error) => this.close(`WebSocket error: ${error.message}`, error));
    ws.on('close', (code, reason) => this.close(`the peer closed the WebSocket (${code}${reason.length > 0 ? ` ${reason.toString('utf8')}` : ''})`));
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  private arriving(chunk: Buffer): void {
    if (this.closed) return;
    // A WebSocket frame header is at most 14 bytes on top of the payload \`ws\` caps at maxFrameSize.
    if (!this.admit(chunk.length, (this.options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE) + 14)) return;
    this.wsPending += chunk.length;
    this.partialFrame(this.wsPending, ++this.wsChunks, false);
  }

  protected write(command: RemotingCommand): void {
    this.ws.send(encodeFrame(command), WS_SEND_OPTIONS);
  }

  protected pauseReading(): void {
    this.ws.pause();
  }

  protected resumeReading(): void {
    this.ws.resume();
  }

  protected shutdown(reason: string, failed: boolean): void {
    const ws = this.ws;
    if (ws.readyState === ws.CLOSED) return;
    if (ws.readyState === ws.OPEN) {
      try {
        // A close reason is at most 123 bytes; keep it printable ASCII so the cut never splits a character.
        ws.close(failed ? WS_PROTOCOL_ERROR : WS_GOING_AWAY, reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 123));
      } catch {
        ws.terminate();
        return;
      }
    }
    // A peer that never answers the close frame must not keep the socket.
    setTimeout(() => ws.terminate(), WS_CLOSE_GRACE_MILLIS).unref();
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (this.wsPending > 0) this.partialFrame((this.wsPending = this.wsChunks = 0), 0, true);
    if (!isBinary) {
      this.close('bad frame: a text message arrived; remoting frames travel as binary WebSocket messages', new ProtocolError('text WebSocket message'));
      return;
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    let command: RemotingCommand;
    try {
      command = decodeFrame(bytes, { maxFrameSize: this.options.maxFrameSize, maxHeaderSize: this.options.maxHeaderSize });
    } catch (error) {
      this.close(`bad frame: ${(error as Error).message}`, error as Error);
      return;
    }
    this.deliver(command);
  }
}
