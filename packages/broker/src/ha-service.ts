/**
 * The master's side of replication (RocketMQ's `DefaultHAService`,
 * `DefaultHAConnection` and `GroupTransferService` in one place):
 *
 * - answers each slave's HA_TRANSFER (ha-protocol.ts) with whole commit-log records from the
 *   offset it reports, holding the request until data arrives or `haSendHeartbeatInterval` ends;
 * - treats each report as the slave's acknowledgement, and closes a slave connection silent for
 *   `haHousekeepingInterval`;
 * - believes a report only as far as the master sent: a connection's first report may not pass
 *   what the master has sent to any slave (or held at start), later ones not what it sent on that
 *   connection, and the report must name this broker and a slave id. RocketMQ's
 *   `DefaultHAConnection` takes any offset, so one peer reporting 2^53-1 confirms every SYNC_MASTER
 *   write with no replica; here the connection is answered with the reason and closed;
 * - on a SYNC_MASTER, gates every stored append (the store's `ReplicationGate`): PUT_OK once a
 *   slave confirmed its end offset, FLUSH_SLAVE_TIMEOUT after `slaveTimeout`, SLAVE_NOT_AVAILABLE
 *   at once when no slave is connected or the best one is `haSlaveFallbehindMax` or more behind
 *   (the 4.x rule: it always waits for the slave);
 * - keeps the replication lag of each slave in bytes and seconds for runtime info and metrics.
 */
import type { MessageStore } from '@karman/commitlog';
import { PutMessageStatus } from '@karman/commitlog';
import { ResponseCode, createResponse } from '@karman/protocol';
import type { RemotingCommand, RemotingServer, ServerConnection } from '@karman/protocol';
import type { BrokerConfig } from './broker-config.js';
import type { BrokerLogger } from './broker-context.js';
import { HaRequestCode, HaTransferRequestSchema, encodeHaTransferResponse } from './ha-protocol.js';
import type { HaTransferRequest } from './ha-protocol.js';

/** One slave as the admin view shows it. */
export interface SlaveReplicationState {
  /** `host:port` the slave advertises. */
  slaveAddr: string;
  brokerId: number;
  /** The slave holds every commit-log byte below this offset. */
  ackOffset: number;
  /** Master's commit-log end minus `ackOffset`. */
  lagBytes: number;
  /** Age of the oldest byte the slave has not confirmed, in seconds (0 when caught up). */
  lagSeconds: number;
  /** Milliseconds since the slave's last report. */
  lastReportAgoMillis: number;
}

/** What the rest of the broker reads about replication, master or slave. */
export interface ReplicationView {
  /** Master: connected slaves. Slave: empty. */
  slaves(): SlaveReplicationState[];
  /** Slave: the master it copies from and how far behind it is; undefined on a master. */
  master?(): { masterAddr: string | undefined; connected: boolean; masterMaxOffset: number; lagBytes: number } | undefined;
}

interface SlaveLink {
  connection: ServerConnection;
  slaveAddr: string;
  brokerId: number;
  ackOffset: number;
  /** End of what the master answered on this connection (from its first report on). */
  sentEnd: number;
  lastReport: number;
}

interface AckWaiter {
  offset: number;
  resolve: (status: PutMessageStatus) => void;
  timer: NodeJS.Timeout;
}

/** Samples kept for lag-in-seconds: enough for minutes of writes at one sample per millisecond. */
const MAX_SAMPLES = 100_000;

export interface HaServiceOptions {
  config: BrokerConfig;
  store: MessageStore;
  server: RemotingServer;
  clock: () => number;
  log: BrokerLogger;
}

export class HaService implements ReplicationView {
  private readonly links = new Map<number, SlaveLink>();
  private waiters: AckWaiter[] = [];
  private readonly wakers = new Set<() => void>();
  /** (commit-log end after a write, when): the age of the oldest unconfirmed byte. */
  private samples: { offset: number; at: number }[] = [];
  private housekeeping: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  /**
   * Highest offset a slave may hold: the log's end at start (what a slave may have copied before a
   * restart of this master) and the end of every answer since, on any connection.
   */
  private sentHighWater = 0;

  constructor(private readonly options: HaServiceOptions) {}

  /** Serve HA_TRANSFER, watch the log and the slaves; on a SYNC_MASTER gate the store's appends. */
  start(): void {
    const { server, store, config } = this.options;
    server.registerHandler(HaRequestCode.HA_TRANSFER, (request, { connection }) => this.transfer(request, connection));
    server.on('disconnect', (connection) => this.links.delete(connection.id));
    this.sentHighWater = store.maxPhyOffset;
    this.unsubscribe = store.onCommitLogWritten((max) => this.written(max));
    if (config.brokerRole === 'SYNC_MASTER') store.setReplicationGate((end) => this.gate(end));
    const every = Math.max(1, Math.min(1000, Math.floor(config.haHousekeepingInterval / 2)));
    this.housekeeping = setInterval(() => this.closeSilent(), every);
    this.housekeeping.unref();
  }

  /** Stop: answer waiting sends FLUSH_SLAVE_TIMEOUT and parked transfers empty; the store stays open. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.housekeeping);
    this.unsubscribe?.();
    this.options.store.setReplicationGate(undefined);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(PutMessageStatus.FLUSH_SLAVE_TIMEOUT);
    }
    for (const wake of [...this.wakers]) wake();
  }

  slaves(): SlaveReplicationState[] {
    const now = this.options.clock();
    const max = this.options.store.maxPhyOffset;
    return [...this.live()]
      .map((l) => ({
        slaveAddr: l.slaveAddr,
        brokerId: l.brokerId,
        ackOffset: l.ackOffset,
        lagBytes: Math.max(0, max - l.ackOffset),
        lagSeconds: this.lagSeconds(l.ackOffset, max, now),
        lastReportAgoMillis: now - l.lastReport,
      }))
      .sort((a, b) => a.brokerId - b.brokerId || a.slaveAddr.localeCompare(b.slaveAddr));
  }

  private *live(): Iterable<SlaveLink> {
    for (const l of this.links.values()) if (!l.connection.closed) yield l;
  }

  /** Highest offset any connected slave confirmed; -1 without one. */
  private bestAck(): number {
    let best = -1;
    for (const l of this.live()) best = Math.max(best, l.ackOffset);
    return best;
  }

  private async transfer(request: RemotingCommand, connection: ServerConnection): Promise<RemotingCommand> {
    const parsed = HaTransferRequestSchema.safeParse(request.extFields);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `bad HA_TRANSFER header (${problems}); send slaveOffset as a non-negative integer`);
    }
    const { config, store, clock } = this.options;
    const header = parsed.data;
    let link = this.links.get(connection.id);
    const problem = this.reportProblem(header, link);
    if (problem) return this.refuseReport(request, connection, header, problem);
    if (link) {
      link.ackOffset = header.slaveOffset;
      link.lastReport = clock();
    } else {
      link = { connection, slaveAddr: header.slaveAddr || connection.remoteAddress, brokerId: header.brokerId, ackOffset: header.slaveOffset, sentEnd: header.slaveOffset, lastReport: clock() };
      this.links.set(connection.id, link);
      this.options.log('info', `slave ${link.slaveAddr} (id ${header.brokerId}, ${connection.remoteAddress}) replicating from offset ${header.slaveOffset}`);
    }
    this.acknowledged();

    // an empty slave starts at the master's last segment (or its minimum).
    let from = header.slaveOffset;
    if (from === 0) {
      const size = store.options.mappedFileSizeCommitLog;
      from = config.haReplicateFromZero ? store.minPhyOffset : Math.max(store.minPhyOffset, store.maxPhyOffset - (store.maxPhyOffset % size));
    }
    try {
      let chunk = await store.readReplicationChunk(from, config.haTransferBatchSize);
      if (!chunk && !this.stopped) {
        await this.waitForData(from, connection);
        if (!this.stopped && !connection.closed) chunk = await store.readReplicationChunk(from, config.haTransferBatchSize);
      }
      const end = chunk?.end ?? from;
      // Whatever the slave reports next is believed up to here.
      link.sentEnd = Math.max(link.sentEnd, end);
      this.sentHighWater = Math.max(this.sentHighWater, end);
      const fields = encodeHaTransferResponse({ offset: from, end, masterMaxOffset: store.maxPhyOffset });
      return createResponse(request, ResponseCode.SUCCESS.code, undefined, fields, chunk?.data);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.options.log('warn', `cannot replicate to ${header.slaveAddr || connection.remoteAddress}: ${message}`);
      return createResponse(request, ResponseCode.SYSTEM_ERROR.code, message);
    }
  }

  /** Why a report cannot be believed, or undefined. */
  private reportProblem(header: HaTransferRequest, link: SlaveLink | undefined): string | undefined {
    const { config, store } = this.options;
    if (!header.brokerName) return `the report has no brokerName; a slave must send its brokerName (${config.brokerName})`;
    if (header.brokerName !== config.brokerName) return `this is the master of ${config.brokerName}, not of ${quoted(header.brokerName)}; check the slave's haMasterAddress and brokerName`;
    if (header.brokerId < 1) return `brokerId ${header.brokerId} is the master's; a slave has brokerId 1 or more`;
    if (link) {
      if (header.slaveOffset > link.sentEnd) return `slaveOffset ${header.slaveOffset} is past ${link.sentEnd}, the end of what this master sent on this connection`;
      return undefined;
    }
    const believable = Math.min(this.sentHighWater, store.maxPhyOffset);
    if (header.slaveOffset > believable) {
      return `slaveOffset ${header.slaveOffset} is past ${believable}, the end of what this master has sent to its slaves (its log ends at ${store.maxPhyOffset}); a slave ahead of its master must be emptied or made master`;
    }
    return undefined;
  }

  /** Answer the reason, then close the connection once the answer is on its way. */
  private refuseReport(request: RemotingCommand, connection: ServerConnection, header: HaTransferRequest, problem: string): RemotingCommand {
    this.links.delete(connection.id);
    this.options.log('warn', `refused HA_TRANSFER from ${connection.remoteAddress} (slaveAddr ${quoted(header.slaveAddr)}, brokerName ${quoted(header.brokerName)}, brokerId ${header.brokerId}): ${problem}; closing the connection`);
    // The answer is sent when this handler returns; closing after the current tick lets it go first.
    setImmediate(() => connection.close(`replication report refused: ${problem}`));
    return createResponse(request, ResponseCode.SYSTEM_ERROR.code, problem);
  }

  /** Resolve when the log grows past `from`, the heartbeat interval ends, the connection closes or the service stops. */
  private waitForData(from: number, connection: ServerConnection): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(watch);
        this.wakers.delete(wake);
        resolve();
      };
      const wake = (): void => {
        if (this.stopped || this.options.store.maxPhyOffset > from) done();
      };
      const timer = setTimeout(done, this.options.config.haSendHeartbeatInterval);
      // A closed connection has nobody to answer: stop holding it.
      const watch = setInterval(() => {
        if (connection.closed) done();
      }, 200);
      this.wakers.add(wake);
      wake();
    });
  }

  private written(max: number): void {
    const now = this.options.clock();
    const last = this.samples.at(-1);
    if (last && last.at === now) last.offset = max;
    else this.samples.push({ offset: max, at: now });
    if (this.samples.length > MAX_SAMPLES) this.samples = this.samples.slice(-MAX_SAMPLES / 2);
    for (const wake of [...this.wakers]) wake();
  }

  private lagSeconds(ack: number, max: number, now: number): number {
    if (ack >= max) return 0;
    // The first write whose end passed `ack` wrote the oldest byte the slave lacks.
    let lo = 0;
    let hi = this.samples.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.samples[mid]!.offset > ack) hi = mid;
      else lo = mid + 1;
    }
    const sample = this.samples[lo];
    return sample ? Math.max(0, now - sample.at) / 1000 : 0;
  }

  /** A report moved the best acknowledgement: answer the sends it covers, drop samples no slave needs. */
  private acknowledged(): void {
    const best = this.bestAck();
    if (best < 0) return;
    if (this.waiters.length > 0) {
      const keep: AckWaiter[] = [];
      for (const w of this.waiters) {
        if (w.offset <= best) {
          clearTimeout(w.timer);
          w.resolve(PutMessageStatus.PUT_OK);
        } else keep.push(w);
      }
      this.waiters = keep;
    }
    let slowest = Number.POSITIVE_INFINITY;
    for (const l of this.live()) slowest = Math.min(slowest, l.ackOffset);
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.offset <= slowest) drop++;
    if (drop > 1024) this.samples = this.samples.slice(drop);
  }

  /** SYNC_MASTER, 4.x `submitReplicaRequest`. */
  private gate(end: number): PutMessageStatus | Promise<PutMessageStatus> {
    const best = this.bestAck();
    if (best >= end) return PutMessageStatus.PUT_OK;
    if (best < 0 || this.options.store.maxPhyOffset - best >= this.options.config.haSlaveFallbehindMax || this.stopped) return PutMessageStatus.SLAVE_NOT_AVAILABLE;
    return new Promise((resolve) => {
      const waiter: AckWaiter = {
        offset: end,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(PutMessageStatus.FLUSH_SLAVE_TIMEOUT);
        }, this.options.config.slaveTimeout),
      };
      this.waiters.push(waiter);
    });
  }

  private closeSilent(): void {
    const now = this.options.clock();
    for (const [id, l] of this.links) {
      if (l.connection.closed) {
        this.links.delete(id);
      } else if (now - l.lastReport > this.options.config.haHousekeepingInterval) {
        this.options.log('warn', `slave ${l.slaveAddr} silent for ${now - l.lastReport} ms (haHousekeepingInterval ${this.options.config.haHousekeepingInterval}); closing its connection`);
        this.links.delete(id);
        l.connection.close('replication connection idle');
      }
    }
  }
}

/** A peer's text for a log line or remark: quoted, control characters escaped, at most 64 characters. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * Replication figures for GET_BROKER_RUNTIME_INFO. RocketMQ 4.x shows none beyond the offsets, so
 * these are Karman keys: on a master the worst slave's lag and every slave as JSON; on a slave its
 * master and how far behind it is.
 */
export function replicationRuntimeInfo(view: ReplicationView | undefined): Record<string, string | number | boolean> {
  if (!view) return {};
  const master = view.master?.();
  if (master) {
    return {
      karmanReplicationMasterAddr: master.masterAddr ?? '',
      karmanReplicationConnected: master.connected,
      karmanReplicationMasterMaxOffset: master.masterMaxOffset,
      karmanReplicationLagBytes: master.lagBytes,
    };
  }
  const slaves = view.slaves();
  return {
    karmanReplicationSlaves: JSON.stringify(slaves),
    karmanReplicationSlaveCount: slaves.length,
    karmanReplicationLagBytes: slaves.length > 0 ? Math.max(...slaves.map((s) => s.lagBytes)) : 0,
    karmanReplicationLagSeconds: slaves.length > 0 ? Math.max(...slaves.map((s) => s.lagSeconds)) : 0,
  };
}
