/**
 * The remoting client: one connection to one server over WebSocket (the default) or raw remoting TCP.
 *
 * Lifecycle (the connection) is kept apart from correlation (the request table):
 *
 *   idle ──connect()/request()──→ connecting ──→ connected ──unexpected drop──→ reconnecting
 *     ↑                               │ fails: the caller's promise rejects        │ backoff: initialDelay,
 *     │                               ↓                                            │ doubling to maxDelay
 *     └──────── close() from any state: closed for good, nothing reconnects ←──────┘
 *
 * A drop rejects every pending request with `ConnectionClosedError` (the server may or may not have
 * acted on them). Backpressure is explicit: at most `maxInFlight` requests await a
 * response and further ones wait their turn, and a send waits while more than `highWaterMark` bytes
 * sit unsent in the socket, so a producer flooding oneways cannot grow memory without bound.
 * Requests from the server are answered by `onRequest` under the same opaque with the response flag.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { ResponseCode } from './codes.js';
import { ConnectionClosedError, InvalidArgumentError, RequestTimeoutError } from './errors.js';
import { TcpFrameChannel, Transport, WsFrameChannel } from './frame-channel.js';
import type { FrameChannel, FrameChannelOptions } from './frame-channel.js';
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_HEADER_SIZE, FLAG_ONEWAY, SerializeType, createResponse, isOneway, isResponse } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';
import { answerRequest } from './request-dispatch.js';
import type { HandlerResult, Responder } from './request-dispatch.js';
import { RequestTable, abortReason } from './request-table.js';
import { callback, parseOptions } from './transport-options.js';

const reconnectSchema = z
  .object({
    /** First wait after a drop (RocketMQ clients retry at once; a short wait spares a restarting server). */
    initialDelayMillis: z.number().int().min(0).default(100),
    /** Longest wait between attempts; each failure doubles the wait up to this. */
    maxDelayMillis: z.number().int().min(0).default(10_000),
  })
  .refine((r) => r.maxDelayMillis >= r.initialDelayMillis, { message: 'maxDelayMillis must be at least initialDelayMillis' });

const clientOptionsSchema = z.object({
  /** Default time a request may wait for its response (RocketMQ's default send timeout, 3 s). */
  requestTimeoutMillis: z.number().int().min(1).default(3000),
  /** Time a connection attempt (TCP connect plus WebSocket upgrade) may take (RocketMQ's connectTimeoutMillis, 3 s). */
  connectTimeoutMillis: z.number().int().min(1).default(3000),
  /** Requests awaiting a response at once; more wait in line (backpressure). */
  maxInFlight: z.number().int().min(1).default(1024),
  /** Reconnection after an unexpected drop, or false for none. Default 100 ms doubling to 10 s. */
  reconnect: z.union([z.literal(false), reconnectSchema]).prefault({}),
  /** Largest frame accepted from the server (16 MiB). */
  maxFrameSize: z.number().int().min(64).default(DEFAULT_MAX_FRAME_SIZE),
  /** Largest frame header accepted from the server. */
  maxHeaderSize: z.number().int().min(64).default(DEFAULT_MAX_HEADER_SIZE),
  /** Unsent bytes above which sends wait for the socket to drain. */
  highWaterMark: z.number().int().min(16 * 1024).default(1024 * 1024),
  /**
   * Header serialization for commands that do not set their own `serializeType`: JSON (what Java
   * clients send) or ROCKETMQ binary, which costs far less to encode and decode (see the README's
   * benchmark). The server answers in the serialization of each request.
   */
  serializeType: z.union([z.literal(SerializeType.JSON), z.literal(SerializeType.ROCKETMQ)]).default(SerializeType.JSON),
  /**
   * WebSocket masking key of the frames this client sends. RFC 6455 has clients mask with a random
   * key so that script-chosen bytes from a browser cannot pose as another protocol to a proxy on
   * the way; a Karman client is a server-side process, so by default it sends the all-zero key
   * (still a masked frame, as the RFC requires), which spares both ends the byte-by-byte XOR: 21 %
   * of a producer's CPU and 3 % of the broker's in the auto-batch profile. 'random' restores
   * random keys, e.g. across a proxy that inspects WebSocket payloads.
   */
  wsMaskKey: z.enum(['zero', 'random']).default('zero'),
  /** Answers server-initiated requests; without it they get REQUEST_CODE_NOT_SUPPORTED. */
  onRequest: callback<(request: RemotingCommand) => RemotingCommand | undefined | Promise<RemotingCommand | undefined>>().optional(),
  /** Failures of `onRequest` and bad frames from the server; never thrown. Default: ignore. */
  onError: callback<(error: Error) => void>().optional(),
});

/** ws's `generateMask` hook: an all-zero key, which ws then skips applying (see `wsMaskKey`). */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** Options of `RemotingClient`; every field is optional. */
export type RemotingClientOptions = z.input<typeof clientOptionsSchema>;
type ResolvedClientOptions = z.output<typeof clientOptionsSchema>;

/** Events a client emits: `connect` (), `disconnect` (reason), `reconnecting` (attempt, delayMillis). */
export type RemotingClientEvent = 'connect' | 'disconnect' | 'reconnecting';

interface Target {
  readonly transport: Transport;
  /** ws:// URL for WebSocket, unused for TCP. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

/** Read "host:port", "ws://host:port[/path]", "wss://…" or "tcp://host:port". */
export function parseAddress(address: string): Target {
  if (typeof address !== 'string' || address.trim() === '') {
    throw new InvalidArgumentError(`RemotingClient: address must be "host:port", "ws://host:port" or "tcp://host:port", got ${JSON.stringify(address)}`);
  }
  const match = /^(?:(ws|wss|tcp):\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})(\/\S*)?$/.exec(address.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535 || (match[1] === 'tcp' && match[4] !== undefined)) {
    throw new InvalidArgumentError(
      `RemotingClient: cannot read address ${JSON.stringify(address)}; write "host:port" (WebSocket), "ws://host:port" or "tcp://host:port" with a port from 1 to 65535`,
    );
  }
  const scheme = match[1] ?? 'ws';
  const hostPart = match[2]!;
  const host = hostPart.startsWith('[') ? hostPart.slice(1, -1) : hostPart;
  if (scheme === 'tcp') return { transport: Transport.TCP, url: '', host, port };
  return { transport: Transport.WS, url: `${scheme}://${hostPart}:${port}${match[4] ?? '/'}`, host, port };
}

interface SlotWaiter {
  readonly wake: () => void;
  readonly fail: (error: Error) => void;
}

/** A connection to one remoting server, with request correlation, reconnection and backpressure. */
export class RemotingClient {
  /** The address as given to the constructor. */
  readonly address: string;
  private readonly target: Target;
  private readonly options: ResolvedClientOptions;
  private readonly events = new EventEmitter();
  private readonly requests: RequestTable;
  private readonly slotWaiters = new Set<SlotWaiter>();
  private channel: FrameChannel | undefined;
  private connecting: Promise<FrameChannel> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  private reconnectAttempt = 0;
  /** Set after an unexpected drop, until a connection succeeds again. */
  private recovering = false;
  private closed = false;

  /** address: "host:port" (WebSocket, the default), "ws://host:port", or "tcp://host:port" (raw remoting TCP). */
  constructor(address: string, options: RemotingClientOptions = {}) {
    this.target = parseAddress(address);
    this.address = address;
    this.options = parseOptions('RemotingClient', clientOptionsSchema, options);
    this.reconnectDelay = this.options.reconnect === false ? 0 : this.options.reconnect.initialDelayMillis;
    this.requests = new RequestTable(() => this.address);
    this.requests.onRemoved = () => this.wakeSlotWaiters();
    // Listeners of 'error' are not part of the contract; keep EventEmitter from throwing on one.
    this.events.on('error', () => {});
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.channel !== undefined && !this.channel.closed;
  }

  /** Bytes handed to `request`/`oneway` but not yet to the kernel (0 when not connected). */
  get bufferedAmount(): number {
    return this.channel?.bufferedAmount ?? 0;
  }

  /** Requests awaiting a response. */
  get inFlight(): number {
    return this.requests.size;
  }

  /** Open the connection (idempotent); `request()` and `oneway()` connect on demand too. */
  async connect(): Promise<void> {
    await this.open();
  }

  /**
   * Send a two-way request and await its response. Rejects with `RequestTimeoutError` after
   * `timeoutMillis` (default `requestTimeoutMillis`, counted from this call, waiting in line
   * included), `ConnectionClosedError` when the connection drops first, or the signal's reason.
   * A response with an error code resolves like any other: interpret it with the caller's logic.
   * Waits first while `maxInFlight` requests are pending or the socket holds more than
   * `highWaterMark` unsent bytes.
   */
  async request(command: RemotingCommand, options: { timeoutMillis?: number; signal?: AbortSignal } = {}): Promise<RemotingCommand> {
    if (isResponse(command) || isOneway(command)) {
      throw new InvalidArgumentError('RemotingClient.request() takes a two-way request (flag 0); send oneway commands with oneway()');
    }
    const timeoutMillis = options.timeoutMillis ?? this.options.requestTimeoutMillis;
    if (!Number.isFinite(timeoutMillis) || timeoutMillis <= 0) {
      throw new InvalidArgumentError(`RemotingClient.request(): timeoutMillis must be a positive number of milliseconds, got ${timeoutMillis}`);
    }
    const signal = options.signal;
    if (signal?.aborted) throw abortReason(signal, `request ${command.code}`);
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const channel = this.channel !== undefined && !this.channel.closed ? this.channel : await this.open();
      if (!channel.writable) {
        // The socket holds more than highWaterMark unsent bytes (large bodies): wait for it to drain.
        await this.waitWritable(channel, command.code, timeoutMillis, deadline, signal);
        continue;
      }
      if (this.requests.size < this.options.maxInFlight && !channel.closed) {
        const response = this.requests.add(command, timeoutMillis, signal, deadline - Date.now());
        try {
          channel.send(command.serializeType === undefined && this.options.serializeType !== SerializeType.JSON ? { ...command, serializeType: this.options.serializeType } : command);
        } catch (error) {
          this.requests.reject(command.opaque, error as Error);
        }
        return response;
      }
      if (channel.closed) continue;
      await this.waitForSlot(command.code, timeoutMillis, deadline, signal);
    }
  }

  /**
   * Send a oneway request (the oneway flag is set for you). Resolves once the frame is handed to the
   * socket; waits first while the socket holds more than `highWaterMark` unsent bytes.
   */
  async oneway(command: RemotingCommand): Promise<void> {
    if (isResponse(command)) throw new InvalidArgumentError('RemotingClient.oneway() takes a request, not a response');
    const serializeType = command.serializeType ?? (this.options.serializeType === SerializeType.JSON ? undefined : this.options.serializeType);
    const frame = isOneway(command) && serializeType === command.serializeType ? command : { ...command, flag: command.flag | FLAG_ONEWAY, serializeType };
    let channel = this.channel !== undefined && !this.channel.closed ? this.channel : await this.open();
    while (!channel.writable) {
      await channel.whenWritable();
      if (channel.closed) channel = await this.open();
    }
    channel.send(frame);
  }

  /** Listen for `connect` (), `disconnect` (reason: string) or `reconnecting` (attempt: number, delayMillis: number). */
  on(event: RemotingClientEvent, listener: (...args: unknown[]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: RemotingClientEvent, listener: (...args: unknown[]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Close the connection for good: pending and waiting requests reject with `ConnectionClosedError`; nothing reconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const error = new ConnectionClosedError(this.address, 'the client was closed');
    for (const waiter of [...this.slotWaiters]) waiter.fail(error);
    this.channel?.close('the client was closed');
    this.requests.rejectAll(error);
    // An attempt under way finishes and then sees the client closed.
    await this.connecting?.catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------------------------
  // Connection lifecycle

  private open(): Promise<FrameChannel> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.address, 'the client was closed'));
    if (this.channel !== undefined && !this.channel.closed) return Promise.resolve(this.channel);
    if (this.connecting) return this.connecting;
    // Connecting on demand replaces a scheduled reconnect attempt.
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const attempt = this.dial().then(
      (channel) => {
        this.connecting = undefined;
        if (this.closed) {
          channel.close('the client was closed');
          throw new ConnectionClosedError(this.address, 'the client was closed');
        }
        this.channel = channel;
        this.recovering = false;
        this.reconnectAttempt = 0;
        this.reconnectDelay = this.options.reconnect === false ? 0 : this.options.reconnect.initialDelayMillis;
        channel.start();
        this.emit('connect');
        return channel;
      },
      (error: unknown) => {
        this.connecting = undefined;
        if (this.recovering) this.scheduleReconnect();
        throw error;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  private dial(): Promise<FrameChannel> {
    const holder: { channel?: FrameChannel } = {};
    // Answers to server-initiated requests go back on the channel they came in on.
    const responder: Responder = {
      sendResponse: (response) => holder.channel!.send(response),
      reportError: (error) => this.report(error),
    };
    const options: FrameChannelOptions = {
      maxFrameSize: this.options.maxFrameSize,
      maxHeaderSize: this.options.maxHeaderSize,
      highWaterMark: this.options.highWaterMark,
      // The client always reads, so a server waiting for us to read its answers can always make progress.
      pauseReadsWhenBlocked: false,
      onCommand: (command) => this.received(responder, command),
      onClose: (reason, error) => this.dropped(holder.channel!, reason, error),
    };
    const timeout = this.options.connectTimeoutMillis;
    return new Promise<FrameChannel>((resolve, reject) => {
      const failed = (reason: string, cause?: unknown): void => {
        clearTimeout(timer);
        reject(new ConnectionClosedError(this.address, reason, cause));
      };
      let timer: NodeJS.Timeout;
      if (this.target.transport === Transport.TCP) {
        const socket = connectTcp({ host: this.target.host, port: this.target.port });
        timer = setTimeout(() => {
          socket.destroy();
          failed(`connect timed out after ${timeout} ms`);
        }, timeout);
        const onError = (error: Error): void => failed(`connect failed: ${error.message}`, error);
        socket.once('error', onError);
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.off('error', onError);
          holder.channel = new TcpFrameChannel(socket, options);
          resolve(holder.channel);
        });
        return;
      }
      const ws = new WebSocket(this.target.url, {
        perMessageDeflate: false,
        maxPayload: this.options.maxFrameSize,
        handshakeTimeout: timeout,
        ...(this.options.wsMaskKey === 'zero' ? { generateMask: zeroMask } : {}),
      });
      let socket: Socket | undefined;
      timer = setTimeout(() => {
        ws.terminate();
        failed(`connect timed out after ${timeout} ms`);
      }, timeout);
      const onError = (error: Error): void => failed(`connect failed: ${error.message}`, error);
      const onEarlyClose = (code: number): void => failed(`the server closed the connection during the WebSocket upgrade (${code})`);
      ws.on('error', onError);
      ws.once('close', onEarlyClose);
      ws.once('upgrade', (response: IncomingMessage) => {
        socket = response.socket as Socket;
      });
      ws.once('open', () => {
        clearTimeout(timer);
        ws.off('error', onError);
        ws.off('close', onEarlyClose);
        if (!socket) {
          ws.terminate();
          failed('the WebSocket opened without a socket');
          return;
        }
        holder.channel = new WsFrameChannel(ws, socket, options);
        resolve(holder.channel);
      });
    });
  }

  private dropped(channel: FrameChannel, reason: string, error: Error | undefined): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.requests.rejectAll(new ConnectionClosedError(this.address, reason, error));
    if (error && !this.closed) this.report(new ConnectionClosedError(this.address, reason, error));
    this.emit('disconnect', reason);
    if (!this.closed && this.options.reconnect !== false) {
      this.recovering = true;
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.options.reconnect === false || this.reconnectTimer !== undefined || this.connecting) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(Math.max(1, delay * 2), this.options.reconnect.maxDelayMillis);
    this.reconnectAttempt += 1;
    this.emit('reconnecting', this.reconnectAttempt, delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // A failure schedules the next attempt (see open()); nobody awaits this one.
      this.open().catch(() => undefined);
    }, delay);
    // A client left reconnecting must not keep the process alive on its own.
    this.reconnectTimer.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Correlation and server-initiated requests

  private received(responder: Responder, command: RemotingCommand): void {
    if (isResponse(command)) {
      // A response nobody waits for any more (timed out, aborted) is dropped, as RocketMQ does.
      this.requests.settle(command);
      return;
    }
    answerRequest(command, this.serveRequest, undefined, responder);
  }

  private readonly serveRequest = (request: RemotingCommand): HandlerResult => {
    const onRequest = this.options.onRequest;
    if (onRequest) return onRequest(request);
    return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code, `request code ${request.code} is not handled by this client (no onRequest handler)`);
  };

  private waitForSlot(code: number, timeoutMillis: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.slotWaiters.delete(waiter);
      };
      const waiter: SlotWaiter = {
        wake: () => {
          done();
          resolve();
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.fail(new RequestTimeoutError(this.address, code, timeoutMillis)), Math.max(0, deadline - Date.now()));
      const onAbort = (): void => waiter.fail(abortReason(signal!, `request ${code}`));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.slotWaiters.add(waiter);
    });
  }

  private async waitWritable(channel: FrameChannel, code: number, timeoutMillis: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    await Promise.race([channel.whenWritable(), expired]);
    clearTimeout(timer);
    if (signal?.aborted) throw abortReason(signal, `request ${code}`);
    if (Date.now() >= deadline && !channel.writable) throw new RequestTimeoutError(this.address, code, timeoutMillis);
  }

  private wakeSlotWaiters(): void {
    let free = this.options.maxInFlight - this.requests.size;
    for (const waiter of this.slotWaiters) {
      if (free <= 0) break;
      waiter.wake();
      free -= 1;
    }
  }

  private emit(event: RemotingClientEvent, ...args: unknown[]): void {
    try {
      this.events.emit(event, ...args);
    } catch (error) {
      this.report(error as Error);
    }
  }

  private report(error: Error): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error hook must not break the client.
    }
  }
}
