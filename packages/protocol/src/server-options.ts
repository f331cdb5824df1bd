/**
 * What a remoting server is configured with, what its handlers see (the connection, the request
 * context), and what it reports about itself.
 */
import { z } from 'zod';
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_HEADER_SIZE } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';
import { callback } from './transport-options.js';

/** One established remoting connection, as handlers and server code see it. */
export interface ServerConnection {
  readonly id: number;
  readonly transport: 'ws' | 'tcp';
  /** "ip:port" of the peer. */
  readonly remoteAddress: string;
  /** Server-initiated request to this peer (e.g. NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE); rejects RequestTimeoutError / ConnectionClosedError. */
  request(command: RemotingCommand, timeoutMillis?: number): Promise<RemotingCommand>;
  /** Send a oneway request to this peer (the oneway flag is set for you). Throws `ConnectionClosedError` when closed. */
  oneway(command: RemotingCommand): void;
  close(reason?: string): void;
  readonly closed: boolean;
}

/** What a handler gets beside the request. */
export interface RequestContext {
  connection: ServerConnection;
  /** header parsed by the request code's zod schema (see headers.ts), or the raw extFields when the code has no schema */
  header: unknown;
}

/**
 * Returns the response (its opaque/flag are set by the server), or undefined for oneway requests. A
 * thrown KarmanError becomes an error response (RemoteError → its responseCode, others →
 * SYSTEM_ERROR) with the message as remark; the connection stays open.
 */
export type RequestHandler = (request: RemotingCommand, context: RequestContext) => RemotingCommand | undefined | Promise<RemotingCommand | undefined>;

export const serverOptionsSchema = z.object({
  /** Interface to listen on. */
  host: z.string().min(1).default('0.0.0.0'),
  /** Port to listen on; 0 picks a free one (read it from `listen()` or `port`). */
  port: z.number().int().min(0).max(65535).default(0),
  /** Largest frame accepted, RocketMQ's `frameMaxLength` (16 MiB); larger frames close the connection. */
  maxFrameSize: z.number().int().min(64).default(DEFAULT_MAX_FRAME_SIZE),
  /** Largest frame header accepted. */
  maxHeaderSize: z.number().int().min(64).default(DEFAULT_MAX_HEADER_SIZE),
  /** Connections (of any protocol, handshakes included) above which new ones are closed at once. */
  maxConnections: z.number().int().min(1).default(10_000),
  /**
   * Connections from one IP address (handshakes included) above which its new ones are closed at
   * once, so one peer cannot fill `maxConnections` for everyone. RocketMQ has no such limit. 1000
   * leaves the other 9,000 of the default total to other addresses, and is still more than the
   * client processes that usually share one address behind a NAT (each RocketMQ client instance
   * keeps one connection per broker).
   */
  maxConnectionsPerAddress: z.number().int().min(1).default(1000),
  /**
   * Bytes of incomplete frames all connections together may hold; past it the connections whose
   * partial frames weigh most (bytes × age) are closed. At least `maxFrameSize`. 64 MiB holds four
   * frames of RocketMQ's 16 MiB `frameMaxLength` at once, or sixteen sends of its largest message
   * (`maxMessageSize`, 4 MiB), about the memory of an idle broker; RocketMQ has no such budget.
   */
  maxBufferedIncompleteFrameBytes: z.number().int().min(64).default(64 * 1024 * 1024),
  /**
   * Close a connection whose frame has not completed this long after its first byte arrived (a
   * frame still arriving does not count as activity for `idleTimeoutMillis`). RocketMQ has none;
   * 30 s lets a 16 MiB frame arrive at 4.5 Mbit/s and a 4 MiB message at 1.2 Mbit/s.
   */
  frameCompleteTimeoutMillis: z.number().int().min(1).default(30_000),
  /** Refused connections and protective closes are logged once per address and kind per interval, then summed up. */
  refusalLogIntervalMillis: z.number().int().min(1).default(60_000),
  /** Close an established connection after this long without a frame either way (RocketMQ: 120 s). */
  idleTimeoutMillis: z.number().int().min(1).default(120_000),
  /** Time a new connection has to show its protocol and, for WebSocket, finish the upgrade. */
  handshakeTimeoutMillis: z.number().int().min(1).default(10_000),
  /** Default timeout of `ServerConnection.request` (RocketMQ's 3 s). */
  requestTimeoutMillis: z.number().int().min(1).default(3000),
  /**
   * Requests one connection may have being handled at once (a held long poll counts); past it a
   * request is answered SYSTEM_BUSY without running its handler. 65,536 is the most a RocketMQ
   * client sends before waiting (`clientAsyncSemaphoreValue`), so no real client meets it.
   */
  maxInFlightRequestsPerConnection: z.number().int().min(1).default(65_536),
  /** Bytes of unsent answers a connection may hold before the server stops reading from it. */
  highWaterMark: z.number().int().min(16 * 1024).default(1024 * 1024),
  /** Reasons for closed connections and handler failures; never thrown. Default: ignore. */
  onError: callback<(error: Error, connection?: ServerConnection) => void>().optional(),
  /** Body of `GET /health` as JSON. Default `{ status: 'ok' }`. */
  health: callback<() => unknown>().optional(),
  /**
   * Extra plain-HTTP paths (e.g. `GET /metrics`): return the answer for a method and path, or
   * undefined for a 404. `/health` is served before this is asked.
   */
  http: callback<(method: string, path: string) => HttpAnswer | undefined>().optional(),
}).superRefine((options, ctx) => {
  if (options.maxBufferedIncompleteFrameBytes < options.maxFrameSize) {
    ctx.addIssue({
      code: 'custom',
      path: ['maxBufferedIncompleteFrameBytes'],
      message: `must be at least maxFrameSize (${options.maxFrameSize}), or no frame of the largest size could ever arrive; raise it or lower maxFrameSize`,
    });
  }
});

/** What a server has refused or closed to protect itself, and what it holds now (for /metrics and /health). */
export interface RemotingServerStats {
  /** Open sockets of any protocol, handshakes included. */
  connections: number;
  /** Bytes held in incomplete frames across all connections now. */
  bufferedIncompleteFrameBytes: number;
  /** Highest `bufferedIncompleteFrameBytes` since start. */
  peakBufferedIncompleteFrameBytes: number;
  /** Connections closed because incomplete frames reached `maxBufferedIncompleteFrameBytes`. */
  incompleteFrameConnectionsClosed: number;
  /** Connections closed because a frame did not complete within `frameCompleteTimeoutMillis`. */
  frameTimeoutConnectionsClosed: number;
  /** Connections refused because `maxConnections` were open. */
  refusedOverMaxConnections: number;
  /** Connections refused because their address had `maxConnectionsPerAddress` open. */
  refusedOverMaxConnectionsPerAddress: number;
  /** Requests answered SYSTEM_BUSY because their connection had `maxInFlightRequestsPerConnection` being handled. */
  busyRequests: number;
}

/** An answer to a plain HTTP request on the server's port. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Options of `RemotingServer`; every field is optional and has RocketMQ's default where it has one. */
export type RemotingServerOptions = z.input<typeof serverOptionsSchema>;
export type ResolvedServerOptions = z.output<typeof serverOptionsSchema>;
