/**
 * Keeps the nameservers told about this broker (RocketMQ `BrokerOuterAPI.registerBrokerAll`):
 * REGISTER_BROKER to every nameserver in parallel at start, every
 * `registerNameServerPeriod` (30 s), and at once after a topic change; UNREGISTER_BROKER to every
 * nameserver on a clean stop. A slave learns its master's address and HA address from the answers.
 *
 * Registration body (RocketMQ `RegisterBrokerBody`, uncompressed JSON):
 *   {"topicConfigSerializeWrapper":{"topicConfigTable":{...},"dataVersion":{...}},"filterServerList":[]}
 */
import { bodyCrc32, createRequest, RemoteError, RemotingClient, RequestCode, ResponseCode } from '@karman/protocol';
import type { DataVersion, TopicConfig } from './topic-config-manager.js';

interface RegistrationIdentity {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  brokerAddr: string;
  haServerAddr: string;
}

export interface RegistrationResult {
  nameserver: string;
  masterAddr?: string;
  haServerAddr?: string;
}

export interface NameServerRegistrarOptions {
  /** Nameserver addresses (`host:port`, `tcp://` or `ws://`). */
  nameservers: string[];
  identity: () => RegistrationIdentity;
  topics: () => { topicConfigTable: Record<string, TopicConfig>; dataVersion: DataVersion };
  period: number;
  timeout: number;
  /** Called with each successful answer (a slave reads its master's address from it). */
  onRegistered?: (result: RegistrationResult) => void;
  /** Called when a nameserver could not be reached or refused; registration keeps its schedule. */
  onError?: (nameserver: string, error: unknown) => void;
}

export class NameServerRegistrar {
  private readonly clients: RemotingClient[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RegistrationResult[]> | undefined;
  private again = false;

  constructor(private readonly options: NameServerRegistrarOptions) {
    this.clients = options.nameservers.map(
      (address) => new RemotingClient(address.includes('://') ? address : `tcp://${address}`, { requestTimeoutMillis: options.timeout }),
    );
  }

  /** Register now, then on the period. Resolves after the first round (failures are reported, not thrown). */
  async start(): Promise<void> {
    await this.registerAll();
    this.timer = setInterval(() => void this.registerAll(), this.options.period);
    this.timer.unref();
  }

  /**
   * Register with every nameserver now. Calls made while a round runs are folded into one more
   * round after it, so a burst of topic changes costs at most two registrations.
   */
  registerAll(): Promise<RegistrationResult[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let results: RegistrationResult[];
      do {
        this.again = false;
        results = await this.round();
      } while (this.again);
      this.running = undefined;
      return results;
    })();
    return this.running;
  }

  /** Stop the schedule, unregister from every nameserver, and close the connections. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    const id = this.options.identity();
    await Promise.all(
      this.clients.map(async (client) => {
        try {
          const response = await client.request(
            createRequest(RequestCode.UNREGISTER_BROKER.code, { brokerName: id.brokerName, brokerAddr: id.brokerAddr, clusterName: id.clusterName, brokerId: id.brokerId }),
          );
          if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, client.address);
        } catch (error) {
          this.options.onError?.(client.address, error);
        }
      }),
    );
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private async round(): Promise<RegistrationResult[]> {
    const id = this.options.identity();
    const body = Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: this.options.topics(), filterServerList: [] }), 'utf8');
    const fields = {
      brokerName: id.brokerName,
      brokerAddr: id.brokerAddr,
      clusterName: id.clusterName,
      haServerAddr: id.haServerAddr,
      brokerId: id.brokerId,
      compressed: false,
      // RocketMQ's UtilAll.crc32: CRC32 masked to 31 bits, what the nameserver checks.
      bodyCrc32: bodyCrc32(body),
    };
    const settled = await Promise.all(
      this.clients.map(async (client): Promise<RegistrationResult | undefined> => {
        try {
          const response = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, fields, body));
          if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, client.address);
          const result: RegistrationResult = {
            nameserver: client.address,
            masterAddr: nonEmpty(response.extFields.masterAddr),
            haServerAddr: nonEmpty(response.extFields.haServerAddr),
          };
          this.options.onRegistered?.(result);
          return result;
        } catch (error) {
          this.options.onError?.(client.address, error);
          return undefined;
        }
      }),
    );
    return settled.filter((r): r is RegistrationResult => r !== undefined);
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
