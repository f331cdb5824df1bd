/**
 * The slave's side of replication (RocketMQ's `DefaultHAClient`). One loop:
 * report the store's commit-log end to the master in an HA_TRANSFER request (ha-protocol.ts),
 * append the records it answers with at exactly that offset (`MessageStore.appendReplicated`,
 * which also builds this broker's consume queues and index), and ask again at once. An empty
 * answer is the master's heartbeat. Any failure (master gone, answer late by more than
 * `haHousekeepingInterval`, refused offset) drops the connection and reconnects after
 * `haReconnectInterval`, resuming from whatever the store holds then, so a restart of either side
 * never leaves a gap or a duplicate.
 */
import type { MessageStore } from '@karman/commitlog';
import { KarmanError, RemoteError, RemotingClient, ResponseCode, createRequest } from '@karman/protocol';
import type { BrokerConfig } from './broker-config.js';
import type { BrokerLogger } from './broker-context.js';
import { HaRequestCode, HaTransferResponseSchema, encodeHaTransferRequest } from './ha-protocol.js';

export interface HaClientOptions {
  config: BrokerConfig;
  store: MessageStore;
  /** This slave's advertised `host:port`. */
  selfAddr: string;
  clock: () => number;
  log: BrokerLogger;
}

export class HaClient {
  private address: string | undefined;
  private client: RemotingClient | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wakeSleep: (() => void) | undefined;
  private lastError: string | undefined;
  /** The master's commit-log end as of its last answer. */
  masterMaxOffset = 0;
  /** Whether the last exchange with the master succeeded. */
  connected = false;

  constructor(private readonly options: HaClientOptions) {
    if (options.config.haMasterAddress) this.address = options.config.haMasterAddress;
  }

  /** The master's address: the configured one, else the last learned from a registration answer. */
  get masterAddress(): string | undefined {
    return this.address;
  }

  /** Told by the registrar (unless `haMasterAddress` is set); a new address reconnects. */
  setMasterAddress(address: string | undefined): void {
    if (this.options.config.haMasterAddress || !address || address === this.address) return;
    this.options.log('info', `replicating from master ${address}`);
    this.address = address;
    this.wakeSleep?.();
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop after the append in progress; the store stays open. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeSleep?.();
    await this.client?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { config, log } = this.options;
    while (!this.stopped) {
      const address = this.address;
      if (!address) {
        await this.sleep(config.haReconnectInterval);
        continue;
      }
      try {
        await this.exchange(address);
        this.connected = true;
        this.lastError = undefined;
      } catch (error) {
        this.connected = false;
        if (this.stopped) break;
        const message = error instanceof Error ? error.message : String(error);
        // Say it once per distinct failure, not once a second while the master is down.
        if (message !== this.lastError) log('warn', `replication from ${address} failed, retrying every ${config.haReconnectInterval} ms: ${message}`);
        this.lastError = message;
        const client = this.client;
        this.client = undefined;
        await client?.close().catch(() => undefined);
        await this.sleep(config.haReconnectInterval);
      }
    }
    this.connected = false;
  }

  private async exchange(address: string): Promise<void> {
    const { config, store, selfAddr } = this.options;
    if (this.client && this.client.address !== clientAddress(address)) {
      await this.client.close();
      this.client = undefined;
    }
    const timeout = config.haHousekeepingInterval;
    this.client ??= new RemotingClient(clientAddress(address), { reconnect: false, requestTimeoutMillis: timeout, connectTimeoutMillis: Math.min(timeout, 3000) });
    const slaveOffset = store.maxPhyOffset;
    const header = encodeHaTransferRequest({ slaveOffset, brokerName: config.brokerName, brokerId: config.brokerId, slaveAddr: selfAddr });
    const response = await this.client.request(createRequest(HaRequestCode.HA_TRANSFER, header), { timeoutMillis: timeout });
    if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
    const parsed = HaTransferResponseSchema.safeParse(response.extFields);
    if (!parsed.success) throw new KarmanError('BAD_RESPONSE', `master ${address} answered HA_TRANSFER without valid offset/end/masterMaxOffset fields`);
    this.masterMaxOffset = parsed.data.masterMaxOffset;
    const body = response.body;
    if (!body || body.length === 0 || this.stopped) return;
    await store.appendReplicated(parsed.data.offset, Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }
}

function clientAddress(address: string): string {
  return address.includes('://') ? address : `tcp://${address}`;
}
