/**
 * The connections one karman-admin run uses (RocketMQ's `DefaultMQAdminExt`): the
 * nameservers given with `-n` and whichever brokers a command reaches, over remoting TCP, opened
 * lazily and closed together when the command ends.
 *
 * Nameserver reads go to the first nameserver that answers (they are independent peers);
 * writes that change a nameserver's own table (delete a topic, wipe or add write permission, KV
 * config) go to every nameserver, as mqadmin does, because nothing copies them from one to another.
 */
import { z } from 'zod';
import { ConnectionClosedError, InvalidArgumentError, KarmanError, RemoteError, RemotingClient, RequestCode, RequestTimeoutError, ResponseCode, createRequest, parseRemotingJson } from '@karman/protocol';
import type { ExtFieldValue, RemotingCommand } from '@karman/protocol';
import { BrokerDataSchema, TopicRouteDataSchema } from '@karman/client';
import type { BrokerData, TopicRouteData } from '@karman/client';

/** GET_BROKER_CLUSTER_INFO's answer (RocketMQ `ClusterInfo`). */
export interface ClusterInfo {
  brokerAddrTable: Record<string, BrokerData>;
  clusterAddrTable: Record<string, string[]>;
}

const ClusterInfoSchema = z.looseObject({
  brokerAddrTable: z.record(z.string(), BrokerDataSchema).default({}),
  clusterAddrTable: z.record(z.string(), z.array(z.string())).default({}),
});

/**
 * A GET_BROKER_CLUSTER_INFO body, from Karman's nameserver (standard JSON) or Apache RocketMQ's
 * (fastjson, whose `brokerAddrs` keys are unquoted numbers: `{0:"127.0.0.1:10911"}`).
 */
export function parseClusterInfo(text: string): ClusterInfo {
  return ClusterInfoSchema.parse(text === '' ? {} : parseRemotingJson(text));
}

/** One broker process: its group name, id (0 = master) and address. */
export interface BrokerMember {
  cluster: string;
  brokerName: string;
  brokerId: number;
  address: string;
}

type Fields = Record<string, ExtFieldValue | undefined>;

export class AdminClient implements AsyncDisposable {
  private readonly clients = new Map<string, RemotingClient>();

  constructor(
    /** Nameserver addresses, `host:port`. */
    readonly nameservers: readonly string[],
    private readonly requestTimeoutMillis = 5_000,
  ) {}

  private needNameservers(): void {
    if (this.nameservers.length === 0) throw new InvalidArgumentError('no nameserver given: pass -n HOST:PORT[;HOST:PORT] (for example -n 127.0.0.1:9876) or set NAMESRV_ADDR');
  }

  /** Send to a nameserver, trying the next one when a nameserver cannot be reached. Answers are returned whatever their code. */
  async nameserver(code: number, fields: Fields = {}, body?: Uint8Array): Promise<RemotingCommand> {
    this.needNameservers();
    let lastError: unknown;
    for (const address of this.nameservers) {
      try {
        return await this.request(address, code, fields, body);
      } catch (error) {
        if (!(error instanceof ConnectionClosedError) && !(error instanceof RequestTimeoutError)) throw error;
        lastError = error;
      }
    }
    throw new KarmanError('NAMESERVER_UNREACHABLE', `no nameserver answered at ${this.nameservers.join(';')} (${(lastError as Error).message}); check -n and that karman-nameserver runs there`, {
      cause: lastError,
    });
  }

  /** Send to every nameserver; each entry is the answer or the error of one of them. */
  async everyNameserver(code: number, fields: Fields = {}, body?: Uint8Array): Promise<Array<{ address: string; response?: RemotingCommand; error?: Error }>> {
    this.needNameservers();
    return Promise.all(
      this.nameservers.map(async (address) => {
        try {
          return { address, response: await this.request(address, code, fields, body) };
        } catch (error) {
          return { address, error: error as Error };
        }
      }),
    );
  }

  /** Send one request to a broker or nameserver address; `timeoutMillis` overrides the client's for a long request. */
  async request(address: string, code: number, fields: Fields = {}, body?: Uint8Array, timeoutMillis = this.requestTimeoutMillis): Promise<RemotingCommand> {
    return this.client(address).request(createRequest(code, fields, body), { timeoutMillis });
  }

  /** Like `request`, but a non-success answer throws a RemoteError naming the address. */
  async call(address: string, code: number, fields: Fields = {}, body?: Uint8Array, timeoutMillis?: number): Promise<RemotingCommand> {
    return expectSuccess(await this.request(address, code, fields, body, timeoutMillis), address);
  }

  async clusterInfo(): Promise<ClusterInfo> {
    const response = expectSuccess(await this.nameserver(RequestCode.GET_BROKER_CLUSTER_INFO.code));
    return parseClusterInfo(textOf(response));
  }

  /** A topic's route; TOPIC_NOT_EXIST becomes an error naming the topic. */
  async route(topic: string): Promise<TopicRouteData> {
    const response = await this.nameserver(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic });
    if (response.code === ResponseCode.TOPIC_NOT_EXIST.code) throw new KarmanError('TOPIC_NOT_EXIST', `topic "${topic}" has no route on the nameserver: create it with updateTopic, or check the name`);
    return TopicRouteDataSchema.parse(jsonOf(expectSuccess(response)));
  }

  /** Every broker process the nameserver knows, sorted by cluster, name and id. */
  async members(): Promise<BrokerMember[]> {
    const info = await this.clusterInfo();
    const clusterOf = new Map<string, string>();
    for (const [cluster, names] of Object.entries(info.clusterAddrTable)) for (const name of names) clusterOf.set(name, cluster);
    const out: BrokerMember[] = [];
    for (const data of Object.values(info.brokerAddrTable)) {
      for (const [id, address] of Object.entries(data.brokerAddrs)) {
        out.push({ cluster: clusterOf.get(data.brokerName) ?? data.cluster, brokerName: data.brokerName, brokerId: Number(id), address });
      }
    }
    return out.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.brokerName.localeCompare(b.brokerName) || a.brokerId - b.brokerId);
  }

  /** Master addresses of a cluster's brokers; an unknown cluster is an error listing the known ones. */
  async clusterMasters(cluster: string): Promise<BrokerMember[]> {
    const members = await this.members();
    const masters = members.filter((m) => m.cluster === cluster && m.brokerId === 0);
    if (masters.length === 0) {
      const known = [...new Set(members.map((m) => m.cluster))];
      throw new KarmanError('NO_SUCH_CLUSTER', `cluster "${cluster}" has no master broker registered (known clusters: ${known.join(', ') || 'none'}); check -c`);
    }
    return masters;
  }

  /**
   * The brokers a `-b ADDR | -c CLUSTER` command targets: the address given, or every master of the
   * cluster. One of the two must be given.
   */
  async targets(options: { brokerAddr?: string | undefined; cluster?: string | undefined }): Promise<string[]> {
    if (options.brokerAddr) return [options.brokerAddr];
    if (options.cluster) return (await this.clusterMasters(options.cluster)).map((m) => m.address);
    throw new InvalidArgumentError('give -b BROKER_ADDR (host:port) or -c CLUSTER_NAME');
  }

  /** The master address of a broker name in a route; an error when it has none. */
  masterOf(route: TopicRouteData, brokerName: string): string {
    const address = route.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs['0'];
    if (!address) {
      const names = route.brokerDatas.map((b) => b.brokerName);
      throw new KarmanError('NO_MASTER', `broker "${brokerName}" has no master in the route (brokers: ${names.join(', ') || 'none'}); check -b`);
    }
    return address;
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private client(address: string): RemotingClient {
    let client = this.clients.get(address);
    if (!client) {
      // No reconnect: a command is one short conversation, and a dead address should fail it now.
      client = new RemotingClient(address.includes('://') ? address : `tcp://${address}`, { reconnect: false, requestTimeoutMillis: this.requestTimeoutMillis });
      this.clients.set(address, client);
    }
    return client;
  }
}

/** The response when it is SUCCESS; otherwise a RemoteError with the server's remark. */
export function expectSuccess(response: RemotingCommand, address?: string): RemotingCommand {
  if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
  return response;
}

/** A response body as UTF-8 text. */
export function textOf(response: RemotingCommand): string {
  return response.body ? Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString('utf8') : '';
}

/**
 * A response body as JSON, read as fastjson writes it (`parseRemotingJson`): Apache RocketMQ's
 * servers leave number keys unquoted, and such a map comes back as `[{ key, value }]`.
 */
export function jsonOf(response: RemotingCommand): unknown {
  const text = textOf(response);
  if (text === '') return {};
  return parseRemotingJson(text);
}
