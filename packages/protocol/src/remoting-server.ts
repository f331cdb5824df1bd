/**
 * The remoting server: one TCP port serving RocketMQ remoting frames over raw TCP, the same frames
 * over WebSocket, and plain HTTP (`GET /health`), told apart by each connection's first bytes
 * (see `protocol-sniffer.ts`).
 *
 * Connection lifecycle:
 *   accept ── over maxConnections, or maxConnectionsPerAddress from its IP? → closed at once
 *     └─ sniff first bytes (within handshakeTimeoutMillis)
 *          ├─ remoting TCP ────────────────────────────→ ServerConnection (tcp)
 *          └─ HTTP request line → node:http parser
 *               ├─ Upgrade: websocket → ws.handleUpgrade → ServerConnection (ws)
 *               └─ anything else → GET /health 200 JSON, otherwise 404; then closed
 * A raw TCP peer becomes a `ServerConnection` (and 'connection' is emitted) when its first bytes
 * arrive, since only they say what it speaks; RocketMQ clients always speak first.
 * An established connection that sends nothing and is sent nothing for idleTimeoutMillis (RocketMQ's
 * channel idle time, 120 s) is closed.
 *
 * A frame still arriving holds memory: every connection's unfinished frames share one budget
 * (maxBufferedIncompleteFrameBytes, the heaviest closed first) and each must complete within
 * frameCompleteTimeoutMillis. Refusals and these closes are reported once per address and interval.
 *
 * Per request: unknown code → REQUEST_CODE_NOT_SUPPORTED (3); header failing its schema →
 * SYSTEM_ERROR (1) with the schema's remark; otherwise the handler runs, and a throw or rejection
 * becomes an error response. A bad frame closes only its own connection, with the reason passed to
 * `onError`. Nothing a peer sends can throw out of this file.
 */
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { addressKey } from './address-key.js';
import { ResponseCode, requestCodeName } from './codes.js';
import { ConnectionClosedError, InvalidArgumentError, KarmanError } from './errors.js';
import { FRAME_TIMEOUT, INCOMPLETE_FRAME_BUDGET, TcpFrameChannel, WsFrameChannel, peerAddress } from './frame-channel.js';
import type { FrameChannel, FrameChannelOptions } from './frame-channel.js';
import { parseRequestHeader } from './headers.js';
import { IncompleteFrameBudget } from './incomplete-frame-budget.js';
import { SniffedProtocol, sniffProtocol } from './protocol-sniffer.js';
import { RefusalLog } from './refusal-log.js';
import { createResponse, isResponse } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';
import { answerRequest, finishRequest } from './request-dispatch.js';
import { RemotingServerConnection } from './server-connection.js';
import { serverOptionsSchema } from './server-options.js';
import type { RemotingServerOptions, RemotingServerStats, RequestContext, RequestHandler, ResolvedServerOptions, ServerConnection } from './server-options.js';
import { parseOptions } from './transport-options.js';

/** Events a server emits, with their listener signatures. */
export type RemotingServerEvent = 'connection' | 'disconnect';

/**
 * Serves remoting requests on one port over WebSocket, raw TCP and HTTP. Register handlers per
 * request code, then `listen()`.
 */
export class RemotingServer {
  private readonly options: ResolvedServerOptions;
  private readonly handlers = new Map<number, RequestHandler>();
  private readonly events = new EventEmitter();
  private readonly netServer: NetServer;
  private readonly httpServer: HttpServer;
  private readonly wsServer: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  /** Open sockets per peer IP address (see `addressKey`). */
  private readonly perAddress = new Map<string, number>();
  private readonly incompleteFrames: IncompleteFrameBudget;
  private readonly refusals: RefusalLog;
  private refusedOverMaxConnections = 0;
  private refusedOverMaxConnectionsPerAddress = 0;
  private busyRequests = 0;
  private frameTimeouts = 0;
  private readonly handshakes = new Map<Socket, NodeJS.Timeout>();
  private readonly live = new Set<RemotingServerConnection>();
  private nextConnectionId = 1;
  private address: { host: string; port: number } | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RemotingServerOptions = {}) {
    this.options = parseOptions('RemotingServer', serverOptionsSchema, options);
    this.incompleteFrames = new IncompleteFrameBudget(this.options.maxBufferedIncompleteFrameBytes);
    this.refusals = new RefusalLog(this.options.refusalLogIntervalMillis, (error) => this.report(error));
    this.netServer = createNetServer();
    this.netServer.on('connection', (socket) => this.accept(socket));
    this.netServer.on('error', (error) => this.report(error));
    this.httpServer = createHttpServer({ maxHeaderSize: 16 * 1024 });
    this.httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => this.serveHttp(req, res));
    this.httpServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    this.httpServer.on('clientError', (error: Error, socket: Socket) => {
      this.report(new KarmanError('BAD_HTTP', `bad HTTP request from ${peerAddress(socket)}: ${error.message}`, { cause: error }));
      if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    });
    this.wsServer = new WebSocketServer({ noServer: true, maxPayload: this.options.maxFrameSize, perMessageDeflate: false, clientTracking: false });
    this.wsServer.on('error', (error) => this.report(error));
  }

  /** Serve `code` with `handler`, replacing any earlier handler for it. */
  registerHandler(code: number, handler: RequestHandler): void {
    if (!Number.isInteger(code)) throw new InvalidArgumentError(`registerHandler: request code must be an integer, got ${String(code)}`);
    if (typeof handler !== 'function') throw new InvalidArgumentError(`registerHandler: the handler for code ${code} must be a function`);
    this.handlers.set(code, handler);
  }

  /** Start listening; resolves with the bound host and port. */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.address) return this.address;
    if (this.closing) throw new InvalidArgumentError('RemotingServer.listen: the server was closed; create a new one');
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new KarmanError('LISTEN_FAILED', `cannot listen on ${this.options.host}:${this.options.port}: ${error.message}`, { cause: error }));
      this.netServer.once('error', onError);
      this.netServer.listen({ host: this.options.host, port: this.options.port }, () => {
        this.netServer.off('error', onError);
        resolve();
      });
    });
    const bound = this.netServer.address() as AddressInfo;
    this.address = { host: bound.address, port: bound.port };
    return this.address;
  }

  /** The bound port (0 before `listen()`). */
  get port(): number {
    return this.address?.port ?? 0;
  }

  /** Established remoting connections (WebSocket and TCP). */
  get connections(): ReadonlySet<ServerConnection> {
    return this.live;
  }

  /** What the server has refused or closed to protect itself, and what it holds now. */
  get stats(): RemotingServerStats {
    return {
      connections: this.sockets.size,
      bufferedIncompleteFrameBytes: this.incompleteFrames.bufferedBytes,
      peakBufferedIncompleteFrameBytes: this.incompleteFrames.peakBytes,
      incompleteFrameConnectionsClosed: this.incompleteFrames.evicted,
      frameTimeoutConnectionsClosed: this.frameTimeouts,
      refusedOverMaxConnections: this.refusedOverMaxConnections,
      refusedOverMaxConnectionsPerAddress: this.refusedOverMaxConnectionsPerAddress,
      busyRequests: this.busyRequests,
    };
  }

  /** `connection` when a remoting connection is established, `disconnect` when it closes. */
  on(event: RemotingServerEvent, listener: (connection: ServerConnection) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: RemotingServerEvent, listener: (connection: ServerConnection) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Stop listening, close every connection and reject their pending server-initiated requests. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.netServer.listening) resolve();
      else this.netServer.close(() => resolve());
    });
    for (const connection of [...this.live]) connection.close('the server is shutting down');
    // Sockets still handshaking (or being answered over plain HTTP) have no connection to close.
    for (const socket of [...this.handshakes.keys()]) socket.destroy();
    await stopped;
    this.refusals.flush();
    this.address = undefined;
  }

  private readonly reportBound = (error: Error, connection?: ServerConnection): void => this.report(error, connection);

  private report(error: Error, connection?: ServerConnection): void {
    const onError = this.options.onError;
    if (!onError) return;
    try {
      onError(error, connection);
    } catch {
      // A failing error hook must not take the server down with it.
    }
  }

  private emit(event: RemotingServerEvent, connection: ServerConnection): void {
    try {
      this.events.emit(event, connection);
    } catch (error) {
      this.report(error as Error, connection);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Accepting and telling protocols apart

  private accept(socket: Socket): void {
    socket.on('error', (error) => this.report(new KarmanError('SOCKET_ERROR', `socket error from ${peerAddress(socket)}: ${error.message}`, { cause: error })));
    if (this.closing) {
      socket.destroy();
      return;
    }
    const address = addressKey(socket);
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.sockets.size >= this.options.maxConnections) {
      this.refusedOverMaxConnections++;
      const { maxConnections } = this.options;
      this.refusals.note('TOO_MANY_CONNECTIONS', address, () => `refused ${peerAddress(socket)}: ${this.sockets.size} connections open (maxConnections ${maxConnections})`, `connections refused (maxConnections ${maxConnections})`);
      socket.destroy();
      return;
    }
    if (fromAddress >= this.options.maxConnectionsPerAddress) {
      this.refusedOverMaxConnectionsPerAddress++;
      const { maxConnectionsPerAddress } = this.options;
      this.refusals.note(
        'TOO_MANY_CONNECTIONS_FROM_ADDRESS',
        address,
        () => `refused ${peerAddress(socket)}: ${fromAddress} connections open from ${address} (maxConnectionsPerAddress ${maxConnectionsPerAddress})`,
        `connections refused (maxConnectionsPerAddress ${maxConnectionsPerAddress})`,
      );
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.perAddress.set(address, fromAddress + 1);
    const timer = setTimeout(() => {
      this.report(new KarmanError('HANDSHAKE_TIMEOUT', `closed ${peerAddress(socket)}: no complete handshake within ${this.options.handshakeTimeoutMillis} ms`));
      socket.destroy();
    }, this.options.handshakeTimeoutMillis);
    this.handshakes.set(socket, timer);
    socket.on('close', () => {
      this.sockets.delete(socket);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
      this.endHandshake(socket);
    });
    let seen: Buffer | undefined;
    let connection: RemotingServerConnection | undefined;
    const onData = (chunk: Buffer): void => {
      seen = seen ? Buffer.concat([seen, chunk]) : chunk;
      const protocol = sniffProtocol(seen);
      if (protocol === SniffedProtocol.NEED_MORE) return;
      socket.off('data', onData);
      socket.pause();
      try {
        if (protocol === SniffedProtocol.REMOTING) {
          this.endHandshake(socket);
          this.establish(new TcpFrameChannel(socket, this.channelOptions(() => connection), seen), (c) => (connection = c));
        } else {
          // Give the bytes back and let node's HTTP parser read the request head.
          socket.unshift(seen);
          this.httpServer.emit('connection', socket);
          socket.resume();
        }
      } catch (error) {
        this.report(error as Error);
        socket.destroy();
      }
    };
    socket.on('data', onData);
  }

  private endHandshake(socket: Socket): void {
    const timer = this.handshakes.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.handshakes.delete(socket);
  }

  private serveHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    let status = 404;
    let body: unknown = { error: `no such path ${req.method ?? ''} ${path ?? ''}; this port serves GET /health, WebSocket upgrades and remoting TCP` };
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      try {
        body = this.options.health ? this.options.health() : { status: 'ok' };
        status = 200;
      } catch (error) {
        status = 500;
        body = { error: (error as Error).message };
        this.report(error as Error);
      }
    }
    if (status === 404 && this.options.http) {
      try {
        const answer = this.options.http(req.method ?? 'GET', path ?? '/');
        if (answer) {
          res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), connection: 'close' });
          res.end(req.method === 'HEAD' ? undefined : answer.body);
          return;
        }
      } catch (error) {
        status = 500;
        body = { error: (error as Error).message };
        this.report(error as Error);
      }
    }
    const json = JSON.stringify(body ?? null);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : json);
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    try {
      this.wsServer.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        this.endHandshake(socket);
        let connection: RemotingServerConnection | undefined;
        this.establish(new WsFrameChannel(ws, socket, this.channelOptions(() => connection)), (c) => (connection = c));
      });
    } catch (error) {
      this.report(error as Error);
      socket.destroy();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Established connections

  private channelOptions(connection: () => RemotingServerConnection | undefined): FrameChannelOptions {
    return {
      maxFrameSize: this.options.maxFrameSize,
      maxHeaderSize: this.options.maxHeaderSize,
      highWaterMark: this.options.highWaterMark,
      pauseReadsWhenBlocked: true,
      incompleteFrames: this.incompleteFrames,
      frameCompleteTimeoutMillis: this.options.frameCompleteTimeoutMillis,
      onCommand: (command) => {
        const c = connection();
        if (c) this.dispatch(c, command);
      },
      onClose: (reason, error) => {
        const c = connection();
        if (c) this.disconnected(c, reason, error);
      },
    };
  }

  private establish(channel: FrameChannel, bind: (connection: RemotingServerConnection) => void): void {
    const connection = new RemotingServerConnection(this.nextConnectionId++, channel, this.options.requestTimeoutMillis, this.reportBound);
    bind(connection);
    this.live.add(connection);
    connection.watchIdle(this.options.idleTimeoutMillis);
    this.emit('connection', connection);
    channel.start();
  }

  private disconnected(connection: RemotingServerConnection, reason: string, error: Error | undefined): void {
    connection.stopWatchingIdle();
    connection.requests.rejectAll(new ConnectionClosedError(connection.remoteAddress, reason, error));
    if (!this.live.delete(connection)) return;
    const code = (error as KarmanError | undefined)?.code;
    if (code === FRAME_TIMEOUT) this.frameTimeouts++;
    if (code === FRAME_TIMEOUT || code === INCOMPLETE_FRAME_BUDGET) {
      // A flood of such peers is a flood of closes: one line per address and interval.
      const ip = connection.remoteAddress.replace(/:\d+$/, '');
      this.refusals.note(code, ip, () => `closed ${connection.transport} connection ${connection.id} from ${connection.remoteAddress}: ${reason}`, code === FRAME_TIMEOUT ? 'connections closed for a frame not completed in time' : 'connections closed for the incomplete-frame budget');
    } else if (error) this.report(new ConnectionClosedError(connection.remoteAddress, `${connection.transport} connection ${connection.id}: ${reason}`, error), connection);
    this.emit('disconnect', connection);
  }

  private dispatch(connection: RemotingServerConnection, command: RemotingCommand): void {
    if (isResponse(command)) {
      // An answer to a server-initiated request; one nobody waits for any more (timed out) is dropped.
      connection.requests.settle(command);
      return;
    }
    const handler = this.handlers.get(command.code);
    if (handler === undefined) {
      const remark = `request code ${command.code} (${requestCodeName(command.code)}) is not supported by this server`;
      finishRequest(command, createResponse(command, ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code, remark), connection);
      return;
    }
    const parsed = parseRequestHeader(command.code, command.extFields);
    if (!parsed.ok) {
      finishRequest(command, createResponse(command, ResponseCode.SYSTEM_ERROR.code, parsed.remark), connection);
      return;
    }
    const max = this.options.maxInFlightRequestsPerConnection;
    if (connection.inFlight >= max) {
      this.busyRequests++;
      const remark = `${connection.inFlight} requests of this connection are being handled (maxInFlightRequestsPerConnection ${max}); wait for their answers before sending more`;
      finishRequest(command, createResponse(command, ResponseCode.SYSTEM_BUSY.code, remark), connection);
      return;
    }
    connection.inFlight++;
    const done = (): void => void connection.inFlight--;
    const counted = (request: RemotingCommand, context: RequestContext): ReturnType<RequestHandler> => {
      let result: ReturnType<RequestHandler>;
      try {
        result = handler(request, context);
      } catch (error) {
        done();
        throw error;
      }
      if (result instanceof Promise) return result.finally(done);
      done();
      return result;
    };
    answerRequest(command, counted, { connection, header: parsed.header }, connection);
  }
}
