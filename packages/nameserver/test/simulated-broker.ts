/**
 * A broker as a nameserver sees one: a `RemotingClient` that sends REGISTER_BROKER,
 * UNREGISTER_BROKER and QUERY_DATA_VERSION over a real socket, as RocketMQ's `BrokerOuterAPI` does.
 * Test-only; Karman's real broker lives in @karman/broker.
 */
import { RemotingClient, RequestCode, createRequest } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { encodeRegisterBrokerBody } from '../src/register-broker-body.js';
import type { DataVersion, TopicConfig } from '../src/route-data.js';

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerAddr: string;
  brokerId: number;
  haServerAddr?: string;
}

export function topicConfigs(names: readonly string[], queues = 4): TopicConfig[] {
  return names.map((topicName) => ({ topicName, readQueueNums: queues, writeQueueNums: queues, perm: 6, topicSysFlag: 0, order: false }));
}

export class SimulatedBroker {
  readonly clients: RemotingClient[];
  dataVersion: DataVersion = { timestamp: Date.now(), counter: 1 };

  /** `nameServers`: "host:port" (WebSocket) or "tcp://host:port" (remoting TCP, as Java brokers connect). */
  constructor(
    nameServers: readonly string[],
    readonly identity: BrokerIdentity,
    public topics: TopicConfig[] = [],
  ) {
    // No reconnect: a closed broker must stay gone, as a crashed process does.
    this.clients = nameServers.map((address) => new RemotingClient(address, { reconnect: false, requestTimeoutMillis: 10_000 }));
  }

  private header(): Record<string, string | number | boolean> {
    const { clusterName, brokerName, brokerAddr, brokerId } = this.identity;
    return { clusterName, brokerName, brokerAddr, brokerId };
  }

  /** Register with every nameserver, as `registerBrokerAll` does; resolves with each answer. */
  register(): Promise<RemotingCommand[]> {
    const body = encodeRegisterBrokerBody(this.topics, this.dataVersion);
    const haServerAddr = this.identity.haServerAddr ?? this.identity.brokerAddr.replace(/:\d+$/, ':10912');
    return Promise.all(
      this.clients.map((client) =>
        client.request(createRequest(RequestCode.REGISTER_BROKER.code, { ...this.header(), haServerAddr, compressed: false, bodyCrc32: 0 }, body)),
      ),
    );
  }

  unregister(): Promise<RemotingCommand[]> {
    return Promise.all(this.clients.map((client) => client.request(createRequest(RequestCode.UNREGISTER_BROKER.code, this.header()))));
  }

  queryDataVersion(): Promise<RemotingCommand[]> {
    const body = Buffer.from(JSON.stringify(this.dataVersion));
    return Promise.all(this.clients.map((client) => client.request(createRequest(RequestCode.QUERY_DATA_VERSION.code, this.header(), body))));
  }

  /** The process dies: its connections close without an UNREGISTER_BROKER. */
  async kill(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }
}

/** Ask a nameserver for a topic's route; resolves with the response. */
export function queryRoute(client: RemotingClient, topic: string): Promise<RemotingCommand> {
  return client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }));
}

export function jsonOf<T = unknown>(command: RemotingCommand): T {
  return JSON.parse(Buffer.from(command.body ?? []).toString('utf8')) as T;
}

/** Poll until `check` is true or `timeoutMillis` passes; resolves with the elapsed time, rejects on timeout. */
export async function waitFor(check: () => boolean, timeoutMillis: number, what: string): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMillis) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - start;
}
