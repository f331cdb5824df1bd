/**
 * Shared by the broker's scenario tests: a broker on an ephemeral port with a temporary store,
 * a raw remoting client to it, and unique names per test. Everything is released by
 * `await using`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemotingClient, createRequest } from '@karman/protocol';
import type { ExtFieldValue, RemotingCommand } from '@karman/protocol';
import { Broker } from '../src/broker.js';
import type { BrokerOptions } from '../src/broker.js';

export interface TestBroker extends AsyncDisposable {
  broker: Broker;
  dir: string;
  /** A raw client over TCP (`transport: 'ws'` for WebSocket). */
  client(transport?: 'tcp' | 'ws'): RemotingClient;
  /** Send one request on a shared TCP client. */
  request(code: number, fields?: Record<string, ExtFieldValue | undefined>, body?: Uint8Array, timeoutMillis?: number): Promise<RemotingCommand>;
  /** Stop and start again on the same store folder (a clean restart). */
  restart(overrides?: BrokerOptions): Promise<void>;
}

let counter = 0;
/** A name unique to this process and call, valid as a topic or group. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function startTestBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'karman-broker-'));
  const base: BrokerOptions = {
    listenHost: '127.0.0.1',
    listenPort: 0,
    storePathRootDir: dir,
    mappedFileSizeCommitLog: 1024 * 1024,
    mappedFileSizeConsumeQueue: 20 * 1000,
    maxHashSlotNum: 1000,
    maxIndexNum: 4000,
    cleanResourceInterval: 0,
    logger: () => {},
    ...options,
  };
  let broker = await Broker.start(base);
  const clients: RemotingClient[] = [];
  let shared: RemotingClient | undefined;
  const fixture: TestBroker = {
    get broker() {
      return broker;
    },
    dir,
    client(transport = 'tcp') {
      const c = new RemotingClient(transport === 'tcp' ? `tcp://${broker.address}` : `ws://${broker.address}`);
      clients.push(c);
      return c;
    },
    async request(code, fields = {}, body, timeoutMillis) {
      shared ??= fixture.client();
      return shared.request(createRequest(code, fields, body), timeoutMillis ? { timeoutMillis } : undefined);
    },
    async restart(overrides = {}) {
      const port = broker.port;
      await broker.close();
      broker = await Broker.start({ ...base, listenPort: port, ...overrides });
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((c) => c.close()));
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
