/**
 * A nameserver you can run in-process: the route tables, the KV config and the request handlers
 * behind one `RemotingServer` (remoting TCP, WebSocket and GET /health on one port). Brokers and
 * clients reach it at `nameServer.address`.
 *
 *   await using ns = await startNameServer({ listenPort: 0, dataDir });
 *
 * Liveness (RouteInfoManager.scanNotActiveBroker): a broker leaves at once when the connection it registered
 * over closes, when it sends UNREGISTER_BROKER, or when it has been silent for
 * `brokerExpiredMillis`, checked every `scanNotActiveBrokerInterval`.
 */
import { join } from 'node:path';
import { InvalidArgumentError, RemotingServer } from '@karman/protocol';
import type { ServerConnection } from '@karman/protocol';
import { KVConfigManager } from './kv-config-manager.js';
import { resolveNameServerOptions } from './name-server-options.js';
import type { NameServerConfig, NameServerOptionsInput } from './name-server-options.js';
import { createNameServerHandlers } from './request-handlers.js';
import { RouteInfoManager } from './route-info-manager.js';
import type { BrokerRemoval } from './route-info-manager.js';

/** What a nameserver reports as it runs (for logs and metrics). */
export type NameServerEvent =
  | { type: 'listening'; host: string; port: number }
  | { type: 'broker_removed'; removal: BrokerRemoval }
  | { type: 'config_updated'; changes: Record<string, string> }
  /** A broker registered with entries the nameserver left out (each "topic: problem"); the rest of it is routed. */
  | { type: 'registration_entries_skipped'; brokerName: string; brokerAddr: string; skipped: readonly string[] }
  | { type: 'closed' };

/** Options of a `NameServer`: the configuration (see `NameServerOptionsSchema`) plus in-process hooks. */
export interface NameServerOptions extends NameServerOptionsInput {
  /** Clock in milliseconds, for expiry. Default `Date.now`. */
  now?: () => number;
  /** Receives status events. */
  onEvent?: (event: NameServerEvent) => void;
  /** Receives transport and handler failures (bad frames, closed connections, thrown handlers). */
  onError?: (error: Error, connection?: ServerConnection) => void;
}

/** The RocketMQ nameserver: a routing registry brokers register with and clients query. */
export class NameServer {
  /** The route tables. */
  readonly routes: RouteInfoManager;
  /** The KV config. */
  readonly kv: KVConfigManager;
  private currentConfig: NameServerConfig;
  private readonly server: RemotingServer;
  private readonly onEvent: ((event: NameServerEvent) => void) | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private listenedHost = '';

  constructor(options: NameServerOptions = {}) {
    const { now, onEvent, onError, ...config } = options;
    this.currentConfig = resolveNameServerOptions(config);
    this.onEvent = onEvent;
    this.routes = new RouteInfoManager({
      now,
      brokerExpiredMillis: this.currentConfig.brokerExpiredMillis,
      onBrokerRemoved: (removal) => this.onEvent?.({ type: 'broker_removed', removal }),
    });
    this.kv = new KVConfigManager({ path: this.currentConfig.dataDir === undefined ? undefined : join(this.currentConfig.dataDir, 'kvConfig.json') });
    this.server = new RemotingServer({
      host: this.currentConfig.bindAddress,
      port: this.currentConfig.listenPort,
      maxFrameSize: this.currentConfig.maxFrameSize,
      maxConnections: this.currentConfig.maxConnections,
      maxConnectionsPerAddress: this.currentConfig.maxConnectionsPerAddress,
      maxInFlightRequestsPerConnection: this.currentConfig.maxInFlightRequestsPerConnection,
      maxBufferedIncompleteFrameBytes: this.currentConfig.maxBufferedIncompleteFrameBytes,
      frameCompleteTimeoutMillis: this.currentConfig.frameCompleteTimeoutMillis,
      refusalLogIntervalMillis: this.currentConfig.refusalLogIntervalMillis,
      idleTimeoutMillis: this.currentConfig.idleTimeoutMillis,
      handshakeTimeoutMillis: this.currentConfig.handshakeTimeoutMillis,
      onError,
      health: () => ({ status: this.state === 'running' ? 'ok' : this.state, role: 'nameserver', ...this.routes.stats(), remoting: this.server.stats }),
    });
    const handlers = createNameServerHandlers({
      routes: this.routes,
      kv: this.kv,
      config: () => this.currentConfig,
      updateConfig: (changes) => this.updateConfig(changes),
      onEntriesSkipped: (brokerName, brokerAddr, skipped) => this.onEvent?.({ type: 'registration_entries_skipped', brokerName, brokerAddr, skipped }),
    });
    for (const [code, handler] of handlers) {
      this.server.registerHandler(code, (request, context) => handler(request, context.header, context.connection));
    }
    // A broker whose connection drops is gone: remove it now rather than after the expiry.
    this.server.on('disconnect', (connection) => {
      this.routes.onConnectionClosed(connection);
    });
  }

  /**
   * The transport underneath, for serving extra request codes beside the nameserver's own (a probe,
   * a metrics code, the benchmark's echo floor). Registering one of the nameserver's codes replaces it.
   */
  get remotingServer(): RemotingServer {
    return this.server;
  }

  /** The configuration in force (defaults applied). */
  get config(): Readonly<NameServerConfig> {
    return this.currentConfig;
  }

  /** The port listened on (the real one when `listenPort` was 0). */
  get port(): number {
    return this.server.port;
  }

  /** "host:port" to give brokers and clients; a wildcard bind address is given as 127.0.0.1. */
  get address(): string {
    const host = this.listenedHost === '0.0.0.0' || this.listenedHost === '::' || this.listenedHost === '' ? '127.0.0.1' : this.listenedHost;
    return `${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** Load the KV config, listen, and start scanning for silent brokers. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.state !== 'new') throw new InvalidArgumentError(`NameServer.start() called on a nameserver that is ${this.state}; create a new NameServer`);
    this.state = 'starting';
    try {
      await this.kv.load();
      const bound = await this.server.listen();
      this.listenedHost = bound.host;
      this.scanTimer = setInterval(() => this.routes.scanNotActiveBrokers(), this.currentConfig.scanNotActiveBrokerInterval);
      this.scanTimer.unref();
      this.state = 'running';
      this.onEvent?.({ type: 'listening', host: bound.host, port: bound.port });
      return bound;
    } catch (error) {
      this.state = 'closed';
      await this.server.close().catch(() => undefined);
      throw error;
    }
  }

  /** Stop scanning, close every connection, and wait for pending KV writes. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    try {
      await this.server.close();
    } finally {
      await this.kv.flush().catch(() => undefined);
      this.state = 'closed';
      this.onEvent?.({ type: 'closed' });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private updateConfig(changes: Record<string, string>): void {
    const next = resolveNameServerOptions({ ...this.currentConfig, ...changes });
    this.currentConfig = next;
    this.routes.brokerExpiredMillis = next.brokerExpiredMillis;
    this.onEvent?.({ type: 'config_updated', changes });
  }
}

/** Create and start a nameserver. */
export async function startNameServer(options: NameServerOptions = {}): Promise<NameServer> {
  const nameServer = new NameServer(options);
  await nameServer.start();
  return nameServer;
}
