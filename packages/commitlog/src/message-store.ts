/**
 * `MessageStore`: the storage engine a broker runs on (RocketMQ's `DefaultMessageStore`). It owns
 * the folder `storePathRootDir`:
 *
 *   commitlog/<20-digit offset>            the records (commit-log.ts)
 *   consumequeue/<topic>/<queueId>/<20-digit byte offset>   20-byte units (consume-queue.ts)
 *   index/<yyyyMMddHHmmssSSS>              key index (index-service.ts)
 *   checkpoint                             how far everything is flushed (checkpoint.ts)
 *   abort                                  present while open: a crash leaves it (store-lock.ts)
 *   lock                                   pid of the process that has the store open
 *
 * Public methods check the closed state, then call a private twin. Expected outcomes are statuses
 * (`PutMessageStatus`, `GetMessageStatus`); exceptions are for a closed store and broken invariants.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  KarmanError,
  MessageProperty,
  MAX_PROPERTIES_SIZE,
  bodyCrc32,
  createOffsetMessageId,
  RECORD_FIXED_OVERHEAD_V1_IPV4,
  decodeRecord,
  prepareRecord,
  propertiesToString,
  readInt64BE,
  recordStoreTimestamp,
  tagsCode as computeTagsCode,
  writeRecord,
} from '@karman/protocol';
import type { HostAddress, MessageRecord, PreparedRecord } from '@karman/protocol';
import { writeCheckpointAsync } from './checkpoint.js';
import { CommitLog } from './commit-log.js';
import { CQ_STORE_UNIT_SIZE, ConsumeQueueStore, MAX_QUEUE_ID, MAX_TOPIC_LENGTH, TOPIC_NAME_PATTERN, type ConsumeQueue, type CqUnit } from './consume-queue.js';
import type { CommitLogDispatcher, DispatchRequest, MessageArrivingListener } from './dispatcher.js';
import { parseReplicationChunk, readReplicationChunk, type ReplicationChunk } from './ha-append.js';
import { IndexService } from './index-service.js';
import { GetMessageStatus, PutMessageStatus } from './message-status.js';
import { checkServedRecord, isConsumable, type ServedCheck } from './record-scan.js';
import { Quarantine, type QuarantinedRecord } from './quarantine.js';
import { scrubStore, type ScrubReport } from './scrub.js';
import { recoverStore, type RecoveryReport } from './recovery.js';
import { countExpired, decideRetention } from './retention.js';
import { resolveStoreOptions, type ResolvedStoreOptions, type StoreOptions } from './store-config.js';
import { StoreLock, createAbortFile, deleteAbortFile } from './store-lock.js';

export { MAX_QUEUE_ID, MAX_TOPIC_LENGTH } from './consume-queue.js';
/** Units scanned per read when filtering by tag (RocketMQ's `maxFilterMessageSize` 16000 bytes / 20). */
const MIN_SCAN_UNITS = 800;
/** Largest gap between two wanted records that one read still spans. */
const READ_GAP_BYTES = 64 * 1024;
/** Largest single read when spanning gaps. */
const READ_SPAN_BYTES = 4 * 1024 * 1024;
/** Most commit-log bytes a read searches to rebuild one damaged consume-queue unit. */
const UNIT_REPAIR_SCAN_BYTES = 64 * 1024 * 1024;
/** Units either side of a damaged one tried as the bounds of its rebuild. */
const REBUILD_NEIGHBOURS = 8;

/** A message to store. The store assigns queue offset, physical offset and store timestamp. */
export interface PutMessageInput {
  topic: string;
  queueId: number;
  body: Uint8Array;
  /** User flag (0). */
  flag?: number;
  /** Message properties: TAGS, KEYS, UNIQ_KEY, WAIT, ... */
  properties?: Record<string, string>;
  /** SYSFLAG bits (compressed, transaction type); host IPv6 bits are derived from the hosts. */
  sysFlag?: number;
  /** Producer clock (defaults to the store clock). */
  bornTimestamp?: number;
  /** Producer address (defaults to 127.0.0.1:0). */
  bornHost?: HostAddress;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
}

/** Answer to `put` and `putBatch`. Offsets are meaningful for PUT_OK and FLUSH_DISK_TIMEOUT. */
export interface PutMessageResult {
  status: PutMessageStatus;
  /** Why the message was refused (MESSAGE_ILLEGAL, PROPERTIES_SIZE_EXCEEDED, SERVICE_NOT_AVAILABLE, UNKNOWN_ERROR). */
  reason?: string;
  /** Physical offset of the first record. */
  wroteOffset: number;
  /** Bytes written (all records of a batch). */
  wroteBytes: number;
  /** Queue offset of the first record. */
  queueOffset: number;
  /** Records stored. */
  msgNum: number;
  /** Offset message ids (store host + physical offset), one per record. */
  msgIds: string[];
  storeTimestamp: number;
}

/** What `getMessage` reads. */
export interface GetMessageRequest {
  /** Consumer group, for logs only. */
  group?: string;
  topic: string;
  queueId: number;
  /** Queue offset to read from. */
  offset: number;
  /** Most messages to return. */
  maxCount: number;
  /** Byte budget; the first message is returned even when larger (RocketMQ's `isTheBatchFull`). */
  maxBytes?: number;
  /** Tag codes wanted; undefined means every message. */
  tagsCodes?: ReadonlySet<number>;
}

/** Answer to `getMessage`: raw stored records, exactly as in the commit log. */
export interface GetMessageResult {
  status: GetMessageStatus;
  buffers: Buffer[];
  /** Queue offset of each buffer. */
  queueOffsets: number[];
  bufferTotalSize: number;
  /** Where the next read should start. */
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
}

/** One record read back: the stored bytes and their decoding. */
export interface StoredRecord {
  buffer: Buffer;
  record: MessageRecord;
}

/** Answer to `queryMessage`. */
export interface QueryMessageResult {
  messages: StoredRecord[];
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
}

/**
 * Decides what a stored append answers once replication is considered (SYNC_MASTER): given
 * the end offset of the append, PUT_OK once a slave confirmed it, or FLUSH_SLAVE_TIMEOUT /
 * SLAVE_NOT_AVAILABLE (both still stored).
 */
export type ReplicationGate = (endOffset: number) => PutMessageStatus | Promise<PutMessageStatus>;

/** Outcome of a retention round. */
export interface CleanResult {
  deletedFiles: number;
  minOffset: number;
  diskFull: boolean;
  reason: string;
}

/** How far one queue's minimum offset moved in a retention round: messages `fromOffset`..`toOffset − 1` are gone. */
export interface RetentionQueueDrop {
  topic: string;
  queueId: number;
  fromOffset: number;
  toOffset: number;
}

/** What a retention round that deleted segments took away, for listeners (`onRetention`). */
export interface RetentionReport {
  /** `forced`: the disk was over diskSpaceCleanForciblyRatio, segments went regardless of age; `expired`: older than fileReservedTime. */
  cause: 'forced' | 'expired';
  reason: string;
  deletedFiles: number;
  /** Queues whose minimum offset moved. */
  queues: RetentionQueueDrop[];
}

/** File of deleted topics (`{ "topic": commitLogEndAtDeletion }`), see `deleteTopic`. */
const TOMBSTONES_FILE = 'deletedTopics.json';

function readTombstones(root: string): Map<string, number> {
  const path = join(root, TOMBSTONES_FILE);
  const found = new Map<string, number>();
  if (!existsSync(path)) return found;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new KarmanError('STORE_CORRUPT', `${path} is not JSON (${(err as Error).message}): restore it, or delete it to let deleted topics' recent messages reappear in their queues`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new KarmanError('STORE_CORRUPT', `${path} must hold an object of topic → offset; restore it or delete it`);
  for (const [topic, at] of Object.entries(parsed)) if (Number.isSafeInteger(at) && (at as number) >= 0) found.set(topic, at as number);
  return found;
}

/** Write the deleted topics atomically (temporary file, fsync, rename); a failed write leaves no temporary file. */
function writeTombstones(root: string, tombstones: ReadonlyMap<string, number>): void {
  const path = join(root, TOMBSTONES_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeSync(fd, JSON.stringify(Object.fromEntries(tombstones)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** What the store found damaged, for metrics and the admin tools. */
export interface IntegrityStats {
  /** Damaged commit-log stretches ever quarantined by this store. */
  quarantinedTotal: number;
  /** Entries in the quarantine list now. */
  quarantined: number;
  /** Consume-queue units a read or a scrub found pointing at the wrong bytes and rewrote from the commit log (since open). */
  unitsRepaired: number;
  /** Consume-queue units recovery rewrote at open. */
  unitsRepairedAtRecovery: number;
}

/** Nearby older records read with one pread (see `readStretches`). */
interface Stretch {
  start: number;
  end: number;
  items: Array<{ phy: number; size: number; queueOffset: number }>;
}

/** What dispatch needs of each message besides its prepared record. */
interface PutMeta {
  tagsCode: number;
  keys: string | undefined;
  uniqKey: string | undefined;
  preparedTransactionOffset: number;
}

const NO_PROPERTIES: Record<string, string> = Object.freeze({}) as Record<string, string>;
const LOCAL_HOST: HostAddress = Object.freeze({ host: '127.0.0.1', port: 0 });

/** A write that failed because the disk (or the quota) is full, rather than because it is broken. */
function isDiskFullError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function illegal(status: PutMessageStatus, reason: string): PutMessageResult {
  return { status, reason, wroteOffset: -1, wroteBytes: 0, queueOffset: -1, msgNum: 0, msgIds: [], storeTimestamp: 0 };
}

/**
 * RocketMQ's memory rule (`DefaultMessageStore.getMessage`, `checkInDiskByCommitOffset`): the
 * newest `accessMessageInMemoryMaxRatio` % of physical memory's worth of commit log is taken to be
 * in the page cache. Physical memory is `physicalMemoryBytes` when set, else the machine's RAM
 * (RocketMQ's `StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE`).
 */
export function inMemoryWindowBytes(accessMessageInMemoryMaxRatio: number, physicalMemoryBytes: number): number {
  const memory = physicalMemoryBytes > 0 ? physicalMemoryBytes : totalmem();
  return Math.floor((memory * accessMessageInMemoryMaxRatio) / 100);
}

export class MessageStore {
  private readonly commitLog: CommitLog;
  private readonly consumeQueues: ConsumeQueueStore;
  private readonly index: IndexService | undefined;
  private readonly dispatchers: CommitLogDispatcher[] = [];
  private readonly arrivalListeners = new Set<MessageArrivingListener>();
  private readonly writeListeners = new Set<(maxPhyOffset: number) => void>();
  private readonly retentionListeners = new Set<(report: RetentionReport) => void>();
  private replicationGate: ReplicationGate | undefined;
  private appendsRefused: string | undefined;
  /** Topics that passed `validate`'s name checks. */
  private readonly checkedTopics = new Set<string>();
  /** Next queue offset per `topic-queueId` (RocketMQ's topicQueueTable). */
  private readonly queueOffsets = new Map<string, number>();
  private lastStoreTimestamp = 0;
  private closed = false;
  private diskFull = false;
  private diskRecheck: NodeJS.Timeout | undefined;
  /** The last commit-log write failed and was rolled back: appends wait until `retryAt` (Date.now ms), then are tried again. */
  private writeError: { error: Error; since: number; retryAt: number; refusedWrites: number } | undefined;
  private dispatchError: Error | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private checkpointing: Promise<void> | undefined;
  private cleaning: Promise<CleanResult> | undefined;
  /** What recovery found at open. */
  recovery!: RecoveryReport;
  /** Newest commit-log bytes counted as in memory (see `isInMemory`). */
  private inMemoryBytes: number;
  /** Offset message ids are the store host then the offset in 16 hex digits: the host part never changes. */
  private readonly msgIdPrefix: string;
  private readonly quarantine: Quarantine;
  private unitsRepaired = 0;
  private scrubbing: Promise<ScrubReport> | undefined;

  private constructor(
    readonly options: ResolvedStoreOptions,
    private readonly lock: StoreLock,
  ) {
    const root = options.storePathRootDir;
    this.msgIdPrefix = createOffsetMessageId(options.storeHost, 0).slice(0, -16);
    this.inMemoryBytes = inMemoryWindowBytes(options.accessMessageInMemoryMaxRatio, options.physicalMemoryBytes);
    this.commitLog = new CommitLog(
      join(root, 'commitlog'),
      options.mappedFileSizeCommitLog,
      options.clock,
      options.logger,
      (d) => this.onWritten(d),
      options.readCacheBytes,
      (d, start, error) => this.onRolledBack(d, start, error),
    );
    this.consumeQueues = new ConsumeQueueStore(join(root, 'consumequeue'), options.mappedFileSizeConsumeQueue, options.clock, options.logger);
    this.dispatchers.push(this.consumeQueues);
    this.quarantine = new Quarantine(root, options.clock, options.logger);
    this.consumeQueues.unitCheck = (topic, queueId, queueOffset, unit) => this.checkUnit(topic, queueId, queueOffset, unit).kind === 'ok';
    this.consumeQueues.onConflict = (req, reason) => {
      this.quarantine.add({ offset: req.commitLogOffset, size: req.msgSize, reason, detectedBy: 'recovery' });
    };
    if (options.messageIndexEnable) {
      this.index = new IndexService({
        dir: join(root, 'index'),
        maxHashSlotNum: options.maxHashSlotNum,
        maxIndexNum: options.maxIndexNum,
        clock: options.clock,
        logger: options.logger,
      });
      this.dispatchers.push(this.index);
    }
  }

  /**
   * Open (creating if needed) the store at `options.storePathRootDir`: take the lock, recover
   * (see recovery.ts), start the flush, checkpoint and retention timers.
   */
  static async open(options: StoreOptions): Promise<MessageStore> {
    const resolved = resolveStoreOptions(options);
    mkdirSync(resolved.storePathRootDir, { recursive: true });
    const lock = await StoreLock.acquire(resolved.storePathRootDir);
    const store = new MessageStore(resolved, lock);
    try {
      await store.start();
    } catch (err) {
      await store.index?.close().catch(() => undefined);
      store.closeFiles();
      lock.release();
      throw err;
    }
    return store;
  }

  private async start(): Promise<void> {
    const o = this.options;
    for (const [topic, at] of readTombstones(o.storePathRootDir)) this.consumeQueues.tombstones.set(topic, at);
    this.quarantine.load();
    this.recovery = await recoverStore({
      quarantine: this.quarantine,
      root: o.storePathRootDir,
      options: o,
      commitLog: this.commitLog,
      consumeQueues: this.consumeQueues,
      index: this.index,
    });
    this.lastStoreTimestamp = this.recovery.lastStoreTimestamp;
    for (const cq of this.consumeQueues.all()) this.queueOffsets.set(`${cq.topic}-${cq.queueId}`, cq.maxOffset);
    createAbortFile(o.storePathRootDir);
    await this.refreshDiskState();

    if (o.flushDiskType === 'ASYNC_FLUSH') {
      this.every(o.flushIntervalCommitLog, () => this.asyncFlushTick());
    }
    this.every(o.flushIntervalConsumeQueue, () => this.checkpoint());
    if (o.cleanResourceInterval > 0) {
      const first = setTimeout(() => {
        void this.cleanExpiredFiles().catch((err: unknown) => o.logger('error', `retention round failed: ${String(err)}`));
        this.every(o.cleanResourceInterval, () => this.cleanExpiredFiles().then(() => undefined));
      }, o.cleanResourceInitialDelay);
      first.unref();
      this.timers.push(first);
    }
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      fn()
        .catch((err: unknown) => this.options.logger('error', `background task failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  // ---- append ----

  /** Store one message. Resolves with a status; never rejects for expected outcomes. */
  put(message: PutMessageInput): Promise<PutMessageResult> {
    return this.putBatch([message]);
  }

  /**
   * Store several messages of one topic and queue as consecutive records with consecutive queue
   * offsets, placed and written together (a SEND_BATCH_MESSAGE). All or none are stored.
   */
  putBatch(messages: readonly PutMessageInput[]): Promise<PutMessageResult> {
    const refused = this.checkWritable();
    if (refused) return Promise.resolve(refused);
    return this.putBatchInner(messages);
  }

  private checkWritable(): PutMessageResult | undefined {
    if (this.appendsRefused !== undefined && !this.closed) return illegal(PutMessageStatus.SERVICE_NOT_AVAILABLE, this.appendsRefused);
    return this.checkHealthy();
  }

  /** Whether the log can be written at all (closed, failed write, failed dispatch, full disk). */
  private checkHealthy(): PutMessageResult | undefined {
    if (this.closed) return illegal(PutMessageStatus.SERVICE_NOT_AVAILABLE, 'the store is closed');
    if (this.commitLog.failed) {
      return illegal(PutMessageStatus.SERVICE_NOT_AVAILABLE, `the store stopped after a write error (${this.commitLog.failed.message}); reopen it`);
    }
    if (this.dispatchError) {
      return illegal(PutMessageStatus.SERVICE_NOT_AVAILABLE, `the store stopped after a dispatch error (${this.dispatchError.message}); reopen it`);
    }
    const w = this.writeError;
    if (w && Date.now() < w.retryAt) {
      return illegal(
        PutMessageStatus.SERVICE_NOT_AVAILABLE,
        `${isDiskFullError(w.error) ? 'service not available now, maybe disk full: ' : ''}the last commit-log write failed (${w.error.message}) and was undone; ` +
          `appends are tried again every appendRetryInterval ${this.options.appendRetryInterval} ms`,
      );
    }
    if (this.diskFull) {
      return illegal(
        PutMessageStatus.SERVICE_NOT_AVAILABLE,
        `service not available now, maybe disk full: use is above diskSpaceWarningLevelRatio ${this.options.diskSpaceWarningLevelRatio} %`,
      );
    }
    return undefined;
  }

  /**
   * Check and measure every message, place them as one run of records, and encode them straight
   * into the commit log's write buffer with their offsets and store time (no per-record buffer, no
   * patching). Not async: the common ASYNC_FLUSH case answers with one promise per call.
   */
  private putBatchInner(messages: readonly PutMessageInput[]): Promise<PutMessageResult> {
    const o = this.options;
    if (messages.length === 0) return Promise.resolve(illegal(PutMessageStatus.MESSAGE_ILLEGAL, 'a batch needs at least one message'));
    const first = messages[0]!;
    const prepared: PreparedRecord[] = [];
    const metas: PutMeta[] = [];
    let wait = true;
    let total = 0;
    for (const m of messages) {
      const bad = this.validate(m);
      if (bad) return Promise.resolve(bad);
      if (m.topic !== first.topic || m.queueId !== first.queueId) {
        return Promise.resolve(illegal(PutMessageStatus.MESSAGE_ILLEGAL, 'every message of a batch must have the same topic and queue id'));
      }
      const properties = m.properties ?? NO_PROPERTIES;
      let p: PreparedRecord;
      try {
        const text = propertiesToString(properties);
        // prepareRecord measures the text exactly; measure here only when the 3-bytes-per-unit
        // bound says it could be over the limit, which must answer its own status.
        if (text.length * 3 > MAX_PROPERTIES_SIZE) {
          const size = Buffer.byteLength(text, 'utf8');
          if (size > MAX_PROPERTIES_SIZE) {
            return Promise.resolve(illegal(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED, `properties encode to ${size} bytes; the limit is ${MAX_PROPERTIES_SIZE}`));
          }
        }
        p = prepareRecord(
          {
            queueId: m.queueId,
            flag: m.flag ?? 0,
            sysFlag: m.sysFlag ?? 0,
            bornTimestamp: m.bornTimestamp ?? o.clock(),
            bornHost: m.bornHost ?? LOCAL_HOST,
            storeHost: o.storeHost,
            reconsumeTimes: m.reconsumeTimes ?? 0,
            preparedTransactionOffset: m.preparedTransactionOffset ?? 0,
            body: Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
            topic: m.topic,
            properties,
          },
          text,
        );
      } catch (err) {
        return Promise.resolve(illegal(PutMessageStatus.MESSAGE_ILLEGAL, err instanceof Error ? err.message : String(err)));
      }
      prepared.push(p);
      total += p.size;
      metas.push({
        tagsCode: computeTagsCode(properties[MessageProperty.TAGS]),
        keys: properties[MessageProperty.KEYS],
        uniqKey: properties[MessageProperty.UNIQ_KEY],
        preparedTransactionOffset: m.preparedTransactionOffset ?? 0,
      });
      if (properties[MessageProperty.WAIT] === 'false') wait = false;
    }
    if (total + 8 > o.mappedFileSizeCommitLog) {
      return Promise.resolve(
        illegal(
          PutMessageStatus.MESSAGE_ILLEGAL,
          `the records take ${total} bytes, more than a commit-log segment holds (mappedFileSizeCommitLog ${o.mappedFileSizeCommitLog} less the 8-byte filler)`,
        ),
      );
    }
    const key = `${first.topic}-${first.queueId}`;
    const result: PutMessageResult = {
      status: PutMessageStatus.PUT_OK,
      wroteOffset: 0,
      wroteBytes: total,
      queueOffset: 0,
      msgNum: prepared.length,
      msgIds: [],
      storeTimestamp: 0,
    };
    let written: Promise<void>;
    try {
      written = this.commitLog.append(total, (target, start, physicalOffset) => {
        // Runs synchronously: no other append can interleave between placing and numbering.
        const storeTimestamp = Math.max(o.clock(), this.lastStoreTimestamp);
        this.lastStoreTimestamp = storeTimestamp;
        result.storeTimestamp = storeTimestamp;
        result.wroteOffset = physicalOffset;
        let next = this.queueOffsets.get(key) ?? 0;
        result.queueOffset = next;
        const requests: DispatchRequest[] = [];
        let at = 0;
        for (let i = 0; i < prepared.length; i++) {
          const p = prepared[i]!;
          const meta = metas[i]!;
          // Prepared and rolled-back transaction records take queue offset 0 and no slot.
          const queueOffset = isConsumable(p.sysFlag) ? next++ : 0;
          const phy = physicalOffset + at;
          writeRecord(target, start + at, p, queueOffset, phy, storeTimestamp);
          result.msgIds.push(this.msgIdPrefix + phy.toString(16).toUpperCase().padStart(16, '0'));
          const req: DispatchRequest = {
            topic: first.topic,
            queueId: first.queueId,
            commitLogOffset: phy,
            msgSize: p.size,
            tagsCode: meta.tagsCode,
            storeTimestamp,
            consumeQueueOffset: queueOffset,
            sysFlag: p.sysFlag,
            preparedTransactionOffset: meta.preparedTransactionOffset,
          };
          if (meta.keys !== undefined) req.keys = meta.keys;
          if (meta.uniqKey !== undefined) req.uniqKey = meta.uniqKey;
          requests.push(req);
          at += p.size;
        }
        this.queueOffsets.set(key, next);
        return requests;
      });
    } catch (err) {
      return Promise.resolve(illegal(PutMessageStatus.UNKNOWN_ERROR, err instanceof Error ? err.message : String(err)));
    }
    // The write group was rolled back (commit-log.ts): nothing of this message is stored.
    const failed = (err: unknown): PutMessageResult =>
      isDiskFullError(err)
        ? illegal(PutMessageStatus.SERVICE_NOT_AVAILABLE, `service not available now, maybe disk full: the commit-log write failed (${(err as Error).message}); the message was not stored`)
        : illegal(PutMessageStatus.UNKNOWN_ERROR, `write failed: ${err instanceof Error ? err.message : String(err)}; the message was not stored`);
    const syncFlush = o.flushDiskType === 'SYNC_FLUSH' && wait;
    const gate = wait ? this.replicationGate : undefined;
    if (!syncFlush && !gate) return written.then(() => result, failed);
    return written.then(async () => {
      const end = result.wroteOffset + total;
      if (syncFlush && !(await this.commitLog.waitFlushed(end, o.syncFlushTimeout))) result.status = PutMessageStatus.FLUSH_DISK_TIMEOUT;
      // RocketMQ 4.x handleHA: a message that does not wait for storage does not wait for the slave either.
      if (result.status === PutMessageStatus.PUT_OK && gate) result.status = await gate(end);
      return result;
    }, failed);
  }

  /** Limits checked before encoding. */
  private validate(m: PutMessageInput): PutMessageResult | undefined {
    const o = this.options;
    if (!this.checkedTopics.has(m.topic)) {
      if (typeof m.topic !== 'string' || m.topic.length === 0) return illegal(PutMessageStatus.MESSAGE_ILLEGAL, 'topic must be a non-empty string');
      if (m.topic.length > MAX_TOPIC_LENGTH) {
        return illegal(PutMessageStatus.MESSAGE_ILLEGAL, `topic is ${m.topic.length} characters; the most is ${MAX_TOPIC_LENGTH} (RocketMQ clients allow 127)`);
      }
      if (!TOPIC_NAME_PATTERN.test(m.topic)) {
        return illegal(PutMessageStatus.MESSAGE_ILLEGAL, `topic ${JSON.stringify(m.topic)} has characters outside RocketMQ's set [%|a-zA-Z0-9_-]`);
      }
      // Topics repeat: remember the good ones (bounded, as topic names come from clients).
      if (this.checkedTopics.size >= 65_536) this.checkedTopics.clear();
      this.checkedTopics.add(m.topic);
    }
    if (!Number.isInteger(m.queueId) || m.queueId < 0 || m.queueId > MAX_QUEUE_ID) {
      return illegal(PutMessageStatus.MESSAGE_ILLEGAL, `queue id ${String(m.queueId)} is not an integer from 0 to ${MAX_QUEUE_ID}`);
    }
    if (!(m.body instanceof Uint8Array)) return illegal(PutMessageStatus.MESSAGE_ILLEGAL, 'body must be a Buffer or Uint8Array');
    if (m.body.length > o.maxMessageSize) {
      return illegal(PutMessageStatus.MESSAGE_ILLEGAL, `body is ${m.body.length} bytes, more than maxMessageSize ${o.maxMessageSize}`);
    }
    return undefined;
  }

  /**
   * Dispatch written records (in commit-log order), write their units, then wake long polls. A
   * throw here (a unit write meeting a full disk) makes the commit log roll the group back, which
   * calls `onRolledBack`.
   */
  private onWritten(requests: DispatchRequest[]): void {
    for (const r of requests) for (const d of this.dispatchers) d.dispatch(r);
    this.consumeQueues.commit();
    if (this.writeError) {
      const w = this.writeError;
      this.writeError = undefined;
      this.options.logger(
        'warn',
        `commit log: appends resumed after ${((Date.now() - w.since) / 1000).toFixed(1)} s of failed writes (${w.refusedWrites} write(s) refused and undone, first: ${w.error.message})`,
      );
    }
    for (const l of this.writeListeners) {
      try {
        l(this.commitLog.maxOffset);
      } catch (err) {
        this.options.logger('error', `commit-log write listener threw: ${String(err)}`);
      }
    }
    if (this.arrivalListeners.size > 0) {
      for (const r of requests) {
        if (!isConsumable(r.sysFlag)) continue;
        for (const l of this.arrivalListeners) {
          try {
            l(r.topic, r.queueId, r.consumeQueueOffset, r.tagsCode);
          } catch (err) {
            this.options.logger('error', `message arrival listener threw: ${String(err)}`);
          }
        }
      }
    }
  }

  /**
   * A write group failed and the commit log cut itself back to `start`: give its queue offsets
   * back, drop the units it dispatched, let the index take those offsets again, and refuse appends
   * for `appendRetryInterval`. If the queues cannot be cut back, the store stops taking appends
   * until reopened (its recovery then rebuilds the queues from the log).
   */
  private onRolledBack(requests: DispatchRequest[], start: number, error: Error): void {
    const first = new Map<string, DispatchRequest>();
    for (const r of requests) {
      if (!isConsumable(r.sysFlag)) continue;
      const key = `${r.topic}-${r.queueId}`;
      const seen = first.get(key);
      if (!seen || r.consumeQueueOffset < seen.consumeQueueOffset) first.set(key, r);
    }
    try {
      for (const [key, r] of first) {
        this.queueOffsets.set(key, r.consumeQueueOffset);
        this.consumeQueues.find(r.topic, r.queueId)?.rollBackTo(r.consumeQueueOffset);
      }
      this.index?.rewindTo(start);
    } catch (err) {
      this.dispatchError ??= KarmanError.from(err);
      this.options.logger('error', `consume queues could not be cut back after a failed write at ${start}: ${this.dispatchError.message}; appends stop until the store is reopened`);
      throw err;
    }
    const now = Date.now();
    const retryAt = now + this.options.appendRetryInterval;
    const what = `${requests.length} record(s) at commit-log offset ${start}`;
    if (this.writeError) {
      this.writeError.retryAt = retryAt;
      this.writeError.refusedWrites++;
      this.options.logger('info', `commit log: write of ${what} failed again (${error.message}); undone, refused`);
    } else {
      this.writeError = { error, since: now, retryAt, refusedWrites: 1 };
      this.options.logger(
        'error',
        `commit log: write of ${what} failed (${error.message}); undone and refused, nothing of it is stored. ` +
          `Appends are refused for appendRetryInterval ${this.options.appendRetryInterval} ms at a time and then tried again, until a write succeeds`,
      );
    }
  }

  // ---- replication (ha-append.ts) ----

  /**
   * A slave's store: `put` and `putBatch` answer
   * SERVICE_NOT_AVAILABLE with `reason`, while `appendReplicated` still writes. Undefined lifts it.
   */
  refuseAppends(reason: string | undefined): void {
    this.appendsRefused = reason;
  }

  /** SYNC_MASTER: make every stored append wait on `gate` before answering; undefined removes it. */
  setReplicationGate(gate: ReplicationGate | undefined): void {
    this.replicationGate = gate;
  }

  /** Be told the new end of the commit log after each write (a master wakes its slaves' transfers). Returns an unsubscribe function. */
  onCommitLogWritten(listener: (maxPhyOffset: number) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /** Master side: whole records from `offset`, about `maxBytes`; undefined at the end of the log. See `readReplicationChunk`. */
  readReplicationChunk(offset: number, maxBytes: number): Promise<ReplicationChunk | undefined> {
    this.checkOpen('readReplicationChunk');
    return readReplicationChunk(this.commitLog, offset, maxBytes);
  }

  /**
   * Slave side: append bytes shipped by the master at exactly `offset`, the end of this log (an
   * empty store takes the master's segment-aligned start). Gaps, overlaps and invalid records are
   * refused with a KarmanError (REPLICA_OFFSET_MISMATCH, REPLICA_CORRUPT). The records are
   * dispatched to this store's own consume queues and index. Resolves with the new end of the log.
   */
  async appendReplicated(offset: number, data: Buffer): Promise<number> {
    this.checkOpen('appendReplicated');
    // A slave keeps copying when its disk is over the warning level: refusing would only stall it.
    const broken = this.commitLog.failed ?? this.dispatchError;
    if (broken) throw new KarmanError('STORE_NOT_WRITABLE', `cannot append replicated bytes: the store stopped after an error (${broken.message}); reopen it`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`appendReplicated: offset ${String(offset)} must be a non-negative integer`);
    const parsed = parseReplicationChunk(data, offset, this.options.mappedFileSizeCommitLog);
    const written = this.commitLog.appendReplicated(offset, parsed.buffers, parsed.spans, parsed.dispatches);
    for (const d of parsed.damaged) this.quarantine.add({ ...d, reason: `${d.reason} (as the master sent it)`, detectedBy: 'replication' });
    // Keep the next queue offsets and store time as a master would, should this store ever take appends.
    for (const d of parsed.dispatches) {
      if (isConsumable(d.sysFlag)) this.queueOffsets.set(`${d.topic}-${d.queueId}`, d.consumeQueueOffset + 1);
      if (d.storeTimestamp > this.lastStoreTimestamp) this.lastStoreTimestamp = d.storeTimestamp;
    }
    await written;
    return this.commitLog.maxOffset;
  }

  /** Be told about every message once it can be read (for long-poll wake-ups). Returns an unsubscribe function. */
  onMessageArrival(listener: MessageArrivingListener): () => void {
    this.arrivalListeners.add(listener);
    return () => this.arrivalListeners.delete(listener);
  }

  /** Add a dispatcher that sees every record written from now on (e.g. a filter bitmap builder). */
  addDispatcher(dispatcher: CommitLogDispatcher): void {
    this.dispatchers.push(dispatcher);
  }

  // ---- reads ----

  /** Read up to `maxCount` messages of (topic, queueId) from `offset`; see `GetMessageStatus`. */
  async getMessage(request: GetMessageRequest): Promise<GetMessageResult> {
    this.checkOpen('getMessage');
    const { topic, queueId, offset, maxCount, maxBytes } = request;
    const bad =
      typeof topic !== 'string'
        ? 'topic must be a string'
        : !Number.isInteger(queueId) || queueId < 0
          ? `queueId ${String(queueId)} must be a non-negative integer`
          : !Number.isSafeInteger(offset) || offset < 0
            ? `offset ${String(offset)} must be a non-negative integer`
            : !Number.isInteger(maxCount) || maxCount < 1
              ? `maxCount ${String(maxCount)} must be a positive integer`
              : maxBytes !== undefined && !(maxBytes > 0)
                ? `maxBytes ${String(maxBytes)} must be positive`
                : undefined;
    if (bad) throw new InvalidArgumentError(`getMessage: ${bad}`);
    return this.getMessageInner(request);
  }

  private async getMessageInner(req: GetMessageRequest): Promise<GetMessageResult> {
    const res = (status: GetMessageStatus, nextBeginOffset: number, minOffset: number, maxOffset: number): GetMessageResult => ({
      status,
      buffers: [],
      queueOffsets: [],
      bufferTotalSize: 0,
      nextBeginOffset,
      minOffset,
      maxOffset,
    });
    const cq = this.consumeQueues.find(req.topic, req.queueId);
    if (!cq) return res(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, 0, 0, 0);
    const min = cq.minOffset;
    const max = cq.maxOffset;
    const offset = req.offset;
    // nextBeginOffset follows RocketMQ's master-side corrections (DefaultMessageStore.getMessage).
    if (max === 0) return res(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, min, max);
    if (offset < min) return res(GetMessageStatus.OFFSET_TOO_SMALL, min, min, max);
    if (offset === max) return res(GetMessageStatus.OFFSET_OVERFLOW_ONE, offset, min, max);
    if (offset > max) return res(GetMessageStatus.OFFSET_OVERFLOW_BADLY, min === 0 ? min : max, min, max);

    const maxCount = req.maxCount;
    const maxBytes = req.maxBytes ?? Number.POSITIVE_INFINITY;
    // Without a tag filter every unit is taken, so read only as many as wanted.
    const scan = req.tagsCodes ? Math.max(MIN_SCAN_UNITS, maxCount) : maxCount;
    let units: Buffer | undefined;
    try {
      units = cq.readUnits(offset, scan);
    } catch {
      units = undefined; // the file was deleted by retention meanwhile
    }
    if (!units) return res(GetMessageStatus.OFFSET_FOUND_NULL, cq.nextFileOffset(offset), min, max);
    const minPhy = this.commitLog.minOffset;
    // Recent records are in the page cache (RocketMQ's accessMessageInMemoryMaxRatio): read them
    // synchronously through the commit log's block cache, as a mapped file would be read. Older
    // ones go to the thread pool, one pread per stretch of nearby records (small gaps are read and
    // skipped), since a thread-pool round trip per record would cost more than the extra bytes.
    const n = units.length / CQ_STORE_UNIT_SIZE;
    const tags = req.tagsCodes;
    const topicBytes = Buffer.from(req.topic, 'utf8');
    const result = res(GetMessageStatus.NO_MATCHED_MESSAGE, offset, min, max);
    const hot = n > 0 && this.isInMemory(readInt64BE(units, 0));
    const cold: Stretch['items'] = [];
    let taken = 0;
    let bytes = 0;
    let i = 0;
    for (; i < n; i++) {
      if (taken >= maxCount) break;
      const at = i * CQ_STORE_UNIT_SIZE;
      const phy = readInt64BE(units, at);
      const size = units.readInt32BE(at + 8);
      if (size === 0 && phy === 0) continue; // a hole: the slot of a record that was quarantined
      if (phy < minPhy && phy >= 0) continue; // deleted by retention
      if (tags && !tags.has(readInt64BE(units, at + 12))) continue;
      if (size < RECORD_FIXED_OVERHEAD_V1_IPV4 || phy < 0 || phy + size > this.commitLog.maxOffset || size > this.segmentRemaining(phy)) {
        // A unit pointing outside the log is damaged. Rebuild it here, in order: stop a batch of
        // older records before it, so the next read starts with it.
        if (cold.length > 0) break;
        const b = this.checkServed(cq, topicBytes, offset + i, phy, undefined);
        if (b && !(taken > 0 && bytes + b.length > maxBytes)) {
          result.buffers.push(b);
          result.queueOffsets.push(offset + i);
          result.bufferTotalSize += b.length;
          taken++;
          bytes += b.length;
        } else if (b) break;
        continue;
      }
      if (taken > 0 && bytes + size > maxBytes) break;
      if (hot) {
        let b: Buffer | undefined;
        try {
          b = this.commitLog.readCached(phy, size);
        } catch {
          b = undefined; // a segment deleted by retention between the unit read and this read
        }
        if (!b) continue;
        b = this.checkServed(cq, topicBytes, offset + i, phy, b);
        if (!b) continue; // damaged: quarantined, or its unit could not be rebuilt
        result.buffers.push(b);
        result.queueOffsets.push(offset + i);
        result.bufferTotalSize += size;
      } else cold.push({ phy, size, queueOffset: offset + i });
      taken++;
      bytes += size;
    }
    result.nextBeginOffset = offset + i;
    if (cold.length > 0) await this.readStretches(cold, result, (b, p) => this.checkServed(cq, topicBytes, p.queueOffset, p.phy, b));
    if (result.buffers.length > 0) result.status = GetMessageStatus.FOUND;
    return result;
  }

  /**
   * Read older records on the thread pool, one pread per stretch of nearby records in one segment
   * (small gaps are read and skipped), and append them to `result` in order.
   */
  private async readStretches(picked: Stretch['items'], result: GetMessageResult, check: (b: Buffer, p: Stretch['items'][number]) => Buffer | undefined): Promise<void> {
    const runs: Stretch[] = [];
    const fileSize = this.options.mappedFileSizeCommitLog;
    for (const p of picked) {
      const last = runs.at(-1);
      if (
        last &&
        p.phy >= last.end &&
        p.phy - last.end <= READ_GAP_BYTES &&
        p.phy + p.size - last.start <= READ_SPAN_BYTES &&
        Math.floor(last.start / fileSize) === Math.floor(p.phy / fileSize)
      ) {
        last.items.push(p);
        last.end = p.phy + p.size;
      } else runs.push({ start: p.phy, end: p.phy + p.size, items: [p] });
    }
    // A segment deleted by retention between the unit read and this read answers nothing.
    const datas = await Promise.all(runs.map((r) => this.commitLog.read(r.start, r.end - r.start).catch(() => undefined)));
    for (const [k, run] of runs.entries()) {
      const data = datas[k];
      if (!data) continue;
      for (const p of run.items) {
        const b = check(data.subarray(p.phy - run.start, p.phy - run.start + p.size), p);
        if (!b) continue;
        result.buffers.push(b);
        result.queueOffsets.push(p.queueOffset);
        result.bufferTotalSize += b.length;
      }
    }
  }

  /**
   * The record a read is about to hand out for unit `queueOffset` of `cq`, checked: `buf` when it
   * is that queue's record and its body matches its CRC (`checkCRCOnRead`). A damaged record is
   * quarantined and skipped. A unit pointing at anything else is damaged: it is rebuilt from the
   * commit log (`rebuildUnit`) and the record found is served; when none is found the slot is
   * quarantined and skipped. Either way the queue moves on.
   */
  private checkServed(cq: ConsumeQueue, topic: Buffer, queueOffset: number, phy: number, buf: Buffer | undefined): Buffer | undefined {
    const check: ServedCheck = buf
      ? checkServedRecord(buf, 0, buf.length, phy, this.segmentRemaining(phy), { topic, queueId: cq.queueId, queueOffset }, this.options.checkCRCOnRead)
      : { kind: 'misplaced', reason: 'it points outside the commit log' };
    if (check.kind === 'ok') return buf;
    if (check.kind === 'misplaced') {
      const found = this.rebuildUnit(cq, topic, queueOffset);
      if (found) return found;
    }
    this.quarantine.add({
      offset: phy,
      size: buf?.length ?? 0,
      reason: check.kind === 'corrupt' ? check.reason : `the consume-queue unit points at no record of its offset (${check.reason}) and none was found in the commit log`,
      detectedBy: 'read',
      topic: cq.topic,
      queueId: cq.queueId,
      queueOffset,
    });
    return undefined;
  }

  /** What the unit of (topic, queueId, queueOffset) points at, checked like a read would (CRC included). */
  private checkUnit(topic: string, queueId: number, queueOffset: number, unit: CqUnit): ServedCheck {
    const { commitLogOffset: phy, size } = unit;
    if (!Number.isSafeInteger(phy) || phy < 0 || size <= 0 || size > this.segmentRemaining(phy)) return { kind: 'misplaced', reason: 'the unit points outside any segment' };
    // Read the size field first when the unit claims a large record: a damaged size never allocates.
    if (size > READ_GAP_BYTES && this.commitLog.readRawSync(phy, 4)?.readInt32BE(0) !== size) return { kind: 'misplaced', reason: 'the record there has another size' };
    const buf = this.commitLog.readRawSync(phy, size);
    if (!buf) return { kind: 'misplaced', reason: 'the unit points outside the commit log' };
    return checkServedRecord(buf, 0, size, phy, this.segmentRemaining(phy), { topic: Buffer.from(topic, 'utf8'), queueId, queueOffset }, true);
  }

  /**
   * Find the record of `queueOffset` in the commit log and rewrite its unit (RocketMQ rebuilds
   * consume queues from the commit log, at recovery only). The search starts after the nearest
   * earlier unit that checks out, or before the nearest later one, and stops at the record, at a
   * later record of the same queue, or after `UNIT_REPAIR_SCAN_BYTES`. Returns the record's bytes.
   */
  private rebuildUnit(cq: ConsumeQueue, topic: Buffer, queueOffset: number): Buffer | undefined {
    const topicName = topic.toString('utf8');
    const neighbour = (k: number): CqUnit | undefined => {
      if (k < cq.minOffset || k >= cq.maxOffset) return undefined;
      const u = cq.readUnitSync(k);
      return u && this.checkUnit(topicName, cq.queueId, k, u).kind === 'ok' ? u : undefined;
    };
    // The nearest neighbours that check out (theirs may be damaged too).
    let before: CqUnit | undefined;
    let after: CqUnit | undefined;
    for (let d = 1; d <= REBUILD_NEIGHBOURS && !before; d++) before = neighbour(queueOffset - d);
    for (let d = 1; d <= REBUILD_NEIGHBOURS && !before && !after; d++) after = neighbour(queueOffset + d);
    const minPhy = this.commitLog.minOffset;
    // Without a unit before, start at a segment's first byte: a record boundary for sure.
    const from = before
      ? before.commitLogOffset + before.size
      : after
        ? Math.max(minPhy, this.commitLog.files.baseOf(Math.max(0, after.commitLogOffset - UNIT_REPAIR_SCAN_BYTES)))
        : queueOffset === cq.minOffset
          ? minPhy
          : undefined;
    if (from === undefined) return undefined;
    const limit = Math.min(this.commitLog.maxOffset, after ? after.commitLogOffset : from + UNIT_REPAIR_SCAN_BYTES);
    let found: DispatchRequest | undefined;
    this.commitLog.scan(
      from,
      true,
      (rec) => {
        const d = rec.dispatch();
        if (d.queueId !== cq.queueId || d.topic !== topicName || !isConsumable(d.sysFlag)) return undefined;
        if (d.consumeQueueOffset === queueOffset) found = d;
        return d.consumeQueueOffset >= queueOffset ? 'stop' : undefined;
      },
      { onDamaged: () => undefined, limit },
    );
    if (!found) return undefined;
    const buf = this.commitLog.readRawSync(found.commitLogOffset, found.msgSize);
    if (!buf) return undefined;
    cq.rewriteUnit(queueOffset, found.commitLogOffset, found.msgSize, found.tagsCode);
    this.unitsRepaired++;
    this.options.logger('warn', `consume queue ${cq.topic}/${cq.queueId}: unit ${queueOffset} pointed at the wrong bytes; rebuilt from the commit log (record at ${found.commitLogOffset})`);
    return buf;
  }

  /** Every quarantined commit-log stretch (see quarantine.ts), by offset. */
  quarantined(): QuarantinedRecord[] {
    this.checkOpen('quarantined');
    return this.quarantine.list();
  }

  /** Counts of damage found, for metrics. */
  get integrity(): IntegrityStats {
    return {
      quarantinedTotal: this.quarantine.total,
      quarantined: this.quarantine.list().length,
      unitsRepaired: this.unitsRepaired,
      unitsRepairedAtRecovery: this.recovery.repairedUnits,
    };
  }

  /**
   * Check the whole store now: every commit-log record from the minimum to the end (magic, sizes,
   * PHYSICALOFFSET, body CRC; damaged stretches are quarantined) and every consume-queue unit of a
   * valid record (rewritten when it differs). Runs in slices with the event loop free between them,
   * so a broker keeps serving; one scrub at a time (a second call gets the running one).
   */
  scrub(options: { signal?: AbortSignal } = {}): Promise<ScrubReport> {
    this.checkOpen('scrub');
    this.scrubbing ??= scrubStore(
      {
        commitLog: this.commitLog,
        consumeQueues: this.consumeQueues,
        quarantine: this.quarantine,
        unitCheck: (topic, queueId, queueOffset, unit) => this.checkUnit(topic, queueId, queueOffset, unit).kind === 'ok',
        onRepaired: () => void this.unitsRepaired++,
        logger: this.options.logger,
        isClosed: () => this.closed,
      },
      options.signal,
    ).finally(() => {
      this.scrubbing = undefined;
    });
    return this.scrubbing;
  }

  /** Read and decode the record at `physicalOffset`; undefined when no record starts there. */
  async readRecord(physicalOffset: number): Promise<StoredRecord | undefined> {
    this.checkOpen('readRecord');
    return this.readRecordInner(physicalOffset);
  }

  private async readRecordInner(physicalOffset: number): Promise<StoredRecord | undefined> {
    if (!Number.isSafeInteger(physicalOffset) || physicalOffset < this.commitLog.minOffset || physicalOffset >= this.commitLog.maxOffset) return undefined;
    const head = await this.commitLog.read(physicalOffset, Math.min(4096, this.commitLog.maxOffset - physicalOffset, this.segmentRemaining(physicalOffset)));
    if (!head || head.length < 8) return undefined;
    const size = head.readInt32BE(0);
    if (size <= 8 || size > this.segmentRemaining(physicalOffset)) return undefined;
    const buffer = size <= head.length ? head.subarray(0, size) : await this.commitLog.read(physicalOffset, size);
    if (!buffer) return undefined;
    try {
      const d = decodeRecord(buffer, 0);
      if (d.kind !== 'record' || d.record.physicalOffset !== physicalOffset) return undefined;
      if (this.options.checkCRCOnRead && bodyCrc32(d.record.body) !== d.record.bodyCrc) {
        this.quarantine.add({ offset: physicalOffset, size, reason: `body CRC 0x${bodyCrc32(d.record.body).toString(16)} differs from the stored 0x${(d.record.bodyCrc >>> 0).toString(16)}`, detectedBy: 'read' });
        return undefined;
      }
      return { buffer, record: d.record };
    } catch {
      return undefined; // not a record boundary
    }
  }

  private segmentRemaining(offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0) return 0;
    return this.options.mappedFileSizeCommitLog - (offset % this.options.mappedFileSizeCommitLog);
  }

  /**
   * The first queue offset whose message was stored at or after `timestamp` (RocketMQ 5's
   * BoundaryType.LOWER); the max offset when every message is older; 0 for an unknown queue.
   */
  async getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number): Promise<number> {
    this.checkOpen('getOffsetInQueueByTime');
    const cq = this.consumeQueues.find(topic, queueId);
    if (!cq) return 0;
    let lo = cq.minOffset;
    let hi = cq.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const ts = await this.storeTimestampAt(cq.readUnitSync(mid)?.commitLogOffset);
      if (ts === undefined || ts < timestamp) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private async storeTimestampAt(phy: number | undefined): Promise<number | undefined> {
    if (phy === undefined) return undefined;
    const head = await this.commitLog.read(phy, Math.min(80, this.commitLog.maxOffset - phy));
    return head ? recordStoreTimestamp(head) : undefined;
  }

  /**
   * Messages of `topic` whose KEYS or UNIQ_KEY equal `key`, stored in [begin, end] (ms), newest
   * first, at most `maxNum` (≤ 64) and, past the first, at most `maxBytes` of records in all. Index
   * hashes collide, so every hit is re-checked on the record.
   */
  async queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number, maxBytes = Number.POSITIVE_INFINITY): Promise<QueryMessageResult> {
    this.checkOpen('queryMessage');
    if (!this.index) throw new KarmanError('INDEX_DISABLED', 'queryMessage needs the key index: open the store with messageIndexEnable true');
    const found = await this.index.queryOffsets(topic, key, maxNum, begin, end);
    const messages: StoredRecord[] = [];
    let bytes = 0;
    // An offset can be listed twice: a write rolled back after a full disk leaves its keys, and the
    // record stored at the same offset afterwards adds its own.
    for (const phy of new Set(found.phyOffsets)) {
      const r = await this.readRecordInner(phy);
      if (!r || r.record.topic !== topic) continue;
      const props = r.record.properties;
      const keys = (props[MessageProperty.KEYS] ?? '').split(' ');
      if (props[MessageProperty.UNIQ_KEY] !== key && !keys.includes(key)) continue;
      if (messages.length > 0 && bytes + r.buffer.length > maxBytes) break;
      messages.push(r);
      bytes += r.buffer.length;
    }
    return { messages, indexLastUpdateTimestamp: found.indexLastUpdateTimestamp, indexLastUpdatePhyoffset: found.indexLastUpdatePhyoffset };
  }

  /**
   * Delete the consume queues of `topic` (files and folder) and forget its queue offsets, then
   * write a checkpoint so a restart does not rebuild them from the commit log (RocketMQ's
   * `deleteTopics`). The commit-log records stay until retention deletes their segments; nothing
   * reaches them any more. A later append to the topic starts its queues at offset 0. Returns the
   * number of queues deleted.
   */
  async deleteTopic(topic: string): Promise<number> {
    this.checkOpen('deleteTopic');
    // Appends already placed are dispatched first, so none recreates a queue after the delete.
    await this.commitLog.drain();
    const gone = this.consumeQueues.deleteTopic(topic);
    for (const cq of gone) this.queueOffsets.delete(`${topic}-${cq.queueId}`);
    if (gone.length > 0) {
      // Recovery re-reads recent segments: remember the deletion so it does not rebuild the queues.
      this.consumeQueues.tombstones.set(topic, this.commitLog.maxOffset);
      writeTombstones(this.options.storePathRootDir, this.consumeQueues.tombstones);
      await this.commitLog.flush();
      // A checkpoint already running may hold an older safe offset: let it end, then write a new one.
      await this.checkpointing?.catch(() => undefined);
      await this.checkpoint();
    }
    return gone.length;
  }

  /** Next queue offset to be written for (topic, queueId); 0 for an unknown queue. */
  getMaxOffsetInQueue(topic: string, queueId: number): number {
    this.checkOpen('getMaxOffsetInQueue');
    return this.consumeQueues.find(topic, queueId)?.maxOffset ?? 0;
  }

  /** First queue offset still readable for (topic, queueId); 0 for an unknown queue. */
  getMinOffsetInQueue(topic: string, queueId: number): number {
    this.checkOpen('getMinOffsetInQueue');
    return this.consumeQueues.find(topic, queueId)?.minOffset ?? 0;
  }

  /** Lowest physical offset still held by the commit log. */
  get minPhyOffset(): number {
    return this.commitLog.minOffset;
  }

  /** End of the written commit log. */
  get maxPhyOffset(): number {
    return this.commitLog.maxOffset;
  }

  /**
   * Whether the commit-log record at `physicalOffset` lies in the in-memory window
   * (`inMemoryWindowBytes`) behind the log's end. The one judge of "still in memory": the store's
   * synchronous reads, the broker's suggestion to read from a slave and its answer for a new
   * group's first offset all ask it.
   */
  isInMemory(physicalOffset: number): boolean {
    return this.commitLog.maxOffset - physicalOffset <= this.inMemoryBytes;
  }

  /** Change `accessMessageInMemoryMaxRatio` while the store runs (a broker's UPDATE_BROKER_CONFIG). */
  setAccessMessageInMemoryMaxRatio(ratio: number): void {
    this.inMemoryBytes = inMemoryWindowBytes(ratio, this.options.physicalMemoryBytes);
  }

  /** End of the fdatasync'ed commit log. */
  get flushedPhyOffset(): number {
    return this.commitLog.flushedOffset;
  }

  /** Whether appends are refused because the disk is over `diskSpaceWarningLevelRatio`. */
  get isDiskFull(): boolean {
    return this.diskFull;
  }

  // ---- flushing ----

  private async asyncFlushTick(): Promise<void> {
    const o = this.options;
    const dirty = this.commitLog.maxOffset - this.commitLog.flushedOffset;
    if (dirty <= 0) return;
    const thorough = o.clock() - this.commitLog.lastFlushTime >= o.flushCommitLogThoroughInterval;
    if (thorough || dirty >= o.flushCommitLogLeastPages * 4096) await this.commitLog.flush();
  }

  /**
   * Flush consume queues and the index, then record in the checkpoint the commit-log offset below
   * which all three are on disk. A crash before the checkpoint write leaves the previous, lower,
   * checkpoint: recovery then re-checks more, never less.
   */
  private checkpoint(): Promise<void> {
    this.checkpointing ??= this.checkpointInner().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async checkpointInner(): Promise<void> {
    // After a failed dispatch the queues lack records below maxOffset: keep the old checkpoint.
    if (this.dispatchError) return;
    const dispatchedTo = this.commitLog.maxOffset;
    const ts = this.lastStoreTimestamp;
    await this.consumeQueues.flush();
    if (this.index) await this.index.flush();
    const safe = Math.min(dispatchedTo, this.commitLog.flushedOffset);
    this.quarantine.persist();
    await writeCheckpointAsync(join(this.options.storePathRootDir, 'checkpoint'), {
      physicMsgTimestamp: ts,
      logicsMsgTimestamp: ts,
      indexMsgTimestamp: this.index?.lastFlushedTimestamp ?? ts,
      safePhyOffset: safe,
    });
  }

  /** fdatasync the commit log, consume queues and index now, and rewrite the checkpoint. */
  async flush(): Promise<void> {
    this.checkOpen('flush');
    await this.commitLog.drain();
    await this.commitLog.flush();
    await this.checkpoint();
  }

  // ---- retention ----

  /**
   * Probe the disk and set the DISK_FULL flag (RocketMQ refreshes it each retention round). While
   * it is set the disk is probed again every `appendRetryInterval` as well, so appends resume soon
   * after space is freed rather than at the next round (up to `cleanResourceInterval`, or
   * `cleanResourceInitialDelay` after a start on a full disk).
   */
  private async refreshDiskState(): Promise<number> {
    const usage = await this.options.diskUsageProbe(join(this.options.storePathRootDir, 'commitlog'));
    const full = usage * 100 > this.options.diskSpaceWarningLevelRatio;
    if (full !== this.diskFull) {
      this.options.logger(
        full ? 'error' : 'warn',
        full
          ? `disk ${(usage * 100).toFixed(1)} % used, above diskSpaceWarningLevelRatio ${this.options.diskSpaceWarningLevelRatio} %: refusing appends until it is below`
          : `disk ${(usage * 100).toFixed(1)} % used, back below diskSpaceWarningLevelRatio: accepting appends`,
      );
    }
    this.diskFull = full;
    if (full && !this.diskRecheck && !this.closed) {
      this.diskRecheck = setInterval(() => {
        if (this.closed) return;
        void this.refreshDiskState().catch((err: unknown) => this.options.logger('error', `disk probe failed: ${String(err)}`));
      }, this.options.appendRetryInterval);
      this.diskRecheck.unref();
    } else if (!full && this.diskRecheck) {
      clearInterval(this.diskRecheck);
      this.diskRecheck = undefined;
    }
    return usage;
  }

  /**
   * One retention round: decide from the clock and the disk probe, delete expired commit-log
   * segments from the oldest (never the one being written), then drop consume-queue and index
   * files below the new minimum. `manual` forces a round whatever the hour.
   */
  async cleanExpiredFiles(manual = false): Promise<CleanResult> {
    this.checkOpen('cleanExpiredFiles');
    this.cleaning ??= this.cleanInner(manual).finally(() => {
      this.cleaning = undefined;
    });
    return this.cleaning;
  }

  private async cleanInner(manual: boolean): Promise<CleanResult> {
    const o = this.options;
    const usage = await this.refreshDiskState();
    const now = o.clock();
    const decision = decideRetention(o, now, usage, manual);
    let deleted = 0;
    if (decision.delete && !this.closed) {
      const segs = this.commitLog.files.segments;
      const writingAt = this.commitLog.files.baseOf(this.commitLog.reservedOffset);
      const keepFrom = segs.findIndex((s) => s.baseOffset >= writingAt || s.baseOffset + s.fileSize > this.commitLog.reservedOffset);
      // Never the segment being written, anything after it, or the last file (it holds the log's end offset).
      deleted = countExpired(segs, Math.min(keepFrom < 0 ? segs.length : keepFrom, segs.length - 1), now, o, decision.cleanImmediately);
      if (deleted > 0) {
        const gone = this.commitLog.files.deleteFirst(deleted);
        o.logger('info', `retention: deleted ${gone.map((s) => s.path).join(', ')} (${decision.reason})`);
        const min = this.commitLog.minOffset;
        const queues: RetentionQueueDrop[] = [];
        for (const cq of this.consumeQueues.all()) {
          const fromOffset = cq.minOffset;
          cq.deleteBelow(min);
          if (cq.minOffset > fromOffset) queues.push({ topic: cq.topic, queueId: cq.queueId, fromOffset, toOffset: cq.minOffset });
        }
        this.reportRetention({ cause: decision.cleanImmediately ? 'forced' : 'expired', reason: decision.reason, deletedFiles: deleted, queues });
        // A deleted topic's records are gone once the log starts past its deletion.
        let pruned = false;
        for (const [topic, at] of this.consumeQueues.tombstones) {
          if (at <= min) {
            this.consumeQueues.tombstones.delete(topic);
            pruned = true;
          }
        }
        if (pruned) writeTombstones(o.storePathRootDir, this.consumeQueues.tombstones);
        if (this.index) await this.index.deleteExpired(min);
        this.quarantine.pruneBelow(min);
      }
    }
    return { deletedFiles: deleted, minOffset: this.commitLog.minOffset, diskFull: this.diskFull, reason: decision.reason };
  }

  /**
   * Be told what each retention round that deleted segments took from which queue (a broker turns
   * it into per-group counts of unconsumed messages dropped). Returns an unsubscribe function.
   */
  onRetention(listener: (report: RetentionReport) => void): () => void {
    this.retentionListeners.add(listener);
    return () => this.retentionListeners.delete(listener);
  }

  private reportRetention(report: RetentionReport): void {
    const total = report.queues.reduce((n, q) => n + q.toOffset - q.fromOffset, 0);
    const shown = report.queues.slice(0, 10).map((q) => `${q.topic}/${q.queueId} ${q.fromOffset}→${q.toOffset}`);
    if (report.queues.length > shown.length) shown.push(`${report.queues.length - shown.length} more`);
    // A forced clean deletes what may never have been consumed: say so where an operator looks.
    this.options.logger(
      report.cause === 'forced' ? 'warn' : 'info',
      `retention (${report.cause === 'forced' ? 'forced clean' : 'expired files'}): ${total} message(s) in ${report.queues.length} queue(s) deleted` +
        (shown.length > 0 ? ` (queue min offsets: ${shown.join(', ')})` : ''),
    );
    for (const l of this.retentionListeners) {
      try {
        l(report);
      } catch (err) {
        this.options.logger('error', `retention listener threw: ${String(err)}`);
      }
    }
  }

  // ---- lifecycle ----

  private checkOpen(what: string): void {
    if (this.closed) throw new KarmanError('STORE_CLOSED', `cannot ${what}: the store at ${this.options.storePathRootDir} is closed`);
  }

  /**
   * Finish queued writes, flush everything, write the checkpoint, delete the abort file and release
   * the lock. Appends after close answer SERVICE_NOT_AVAILABLE.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.diskRecheck) clearInterval(this.diskRecheck);
    await this.commitLog.drain();
    await this.cleaning?.catch(() => undefined);
    await this.scrubbing?.catch(() => undefined);
    await this.checkpointing?.catch(() => undefined);
    try {
      const broken = this.commitLog.failed ?? this.dispatchError;
      if (broken) {
        // The log or a queue may hold part of a refused write: leave the abort file so the next open checks everything.
        this.options.logger('warn', `store closed after an error it could not undo (${broken.message}); the next open recovers as after a crash`);
      } else {
        await this.commitLog.flush();
        try {
          await this.checkpointInner();
        } catch (err) {
          // Recovery after a clean stop checks from the older checkpoint on, so a missing update only costs time.
          this.options.logger('warn', `could not write the checkpoint at close (${err instanceof Error ? err.message : String(err)}); the next open checks from the previous one`);
        }
        deleteAbortFile(this.options.storePathRootDir);
      }
    } finally {
      if (this.index) await this.index.close().catch(() => undefined);
      this.closeFiles();
      this.lock.release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private closeFiles(): void {
    this.commitLog.close();
    this.consumeQueues.close();
  }
}
