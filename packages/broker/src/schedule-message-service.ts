/**
 * Delay levels (RocketMQ's `ScheduleMessageService`): a message sent with DELAY level n is
 * stored in SCHEDULE_TOPIC_XXXX queue n−1 (see `routeThroughSchedule` in send-message-processor.ts);
 * this service walks each level's queue in order and, once a message is due, puts it back on its
 * real topic and queue.
 *
 * Due time = the record's store timestamp + the level's delay. RocketMQ keeps that time in the
 * consume-queue tags code; our store derives tags codes from TAGS, so the time is read from the
 * record itself (the same value). Every message of a level has the same delay, so the queue is in
 * due order and the walk stops at the first message not yet due (FIFO per level).
 *
 * Progress: the next queue offset of each level, kept in `config/delayOffset.json`:
 *
 *   { "offsetTable": { "1": 12, "2": 0, ... } }     level → next queue offset to deliver
 *
 * written every `flushDelayOffsetInterval` and on stop. An offset advances only after its message
 * is stored on the real topic, so a crash re-delivers at most what was delivered since the last
 * write (at-least-once) and loses nothing.
 */
import { z } from 'zod';
import { GetMessageStatus, PutMessageStatus } from '@karman/commitlog';
import type { PutMessageInput } from '@karman/commitlog';
import { MessageProperty, SystemTopic, decodeRecord, recordStoreTimestamp } from '@karman/protocol';
import type { MessageRecord } from '@karman/protocol';
import type { BrokerContext } from './broker-context.js';
import { JsonConfigFile } from './json-config-file.js';
import { reputInput } from './send-message-processor.js';

const FileSchema = z.looseObject({ offsetTable: z.record(z.string(), z.number().int().min(0)) });
type DelayOffsetFile = z.infer<typeof FileSchema>;

export const ScheduleMessageServiceOptionsSchema = z.object({
  /** Re-check delay of a level that found nothing to deliver (RocketMQ's DELAY_FOR_A_WHILE, 100 ms). */
  idleInterval: z.number().int().min(1).default(100),
  /** Back-off after a failed delivery (RocketMQ's DELAY_FOR_A_PERIOD, 10 s). */
  errorInterval: z.number().int().min(1).default(10_000),
  /** Messages read from a level's queue per round. */
  batchSize: z.number().int().min(1).default(32),
});
export type ScheduleMessageServiceOptions = z.input<typeof ScheduleMessageServiceOptionsSchema>;

/**
 * The message to put back on its real topic (RocketMQ's `messageTimeup`): the real topic and queue
 * from REAL_TOPIC / REAL_QID, DELAY (and the 5.x timer properties) cleared, WAIT=false, everything
 * else as stored. RocketMQ keeps REAL_TOPIC and REAL_QID on the delivered message, and so do we.
 * Returns a problem text when the record does not say where it belongs.
 */
export function restoreScheduledMessage(record: MessageRecord): PutMessageInput | string {
  const properties: Record<string, string> = { ...record.properties };
  const topic = properties[MessageProperty.REAL_TOPIC];
  const queueText = properties[MessageProperty.REAL_QID];
  const queueId = queueText !== undefined && /^\d{1,9}$/.test(queueText) ? Number(queueText) : Number.NaN;
  if (!topic) return `the scheduled message at commit-log offset ${record.physicalOffset} has no REAL_TOPIC property`;
  if (!Number.isInteger(queueId)) return `the scheduled message at commit-log offset ${record.physicalOffset} has REAL_QID "${queueText ?? ''}", not a queue id`;
  delete properties[MessageProperty.DELAY];
  delete properties[MessageProperty.TIMER_DELIVER_MS];
  delete properties[MessageProperty.TIMER_DELAY_SEC];
  properties[MessageProperty.WAIT] = 'false';
  return { ...reputInput(record, topic, queueId, properties, record.reconsumeTimes), preparedTransactionOffset: record.preparedTransactionOffset };
}

/**
 * When a stored schedule record is due: store timestamp + the level's delay. A time further ahead
 * than now + delay can only come from a clock that went back; it is treated as due now.
 */
export function deliverTimestamp(storeTimestamp: number, delay: number, now: number): number {
  const due = storeTimestamp + delay;
  return due > now + delay ? now : due;
}

interface LevelState {
  readonly level: number;
  readonly delay: number;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  /** Waiting for the idle re-check (nothing found); an arrival wakes it early. */
  idle: boolean;
}

/** Delivers delay-level messages from SCHEDULE_TOPIC_XXXX to their real topic when due. */
export class ScheduleMessageService {
  private readonly options: z.output<typeof ScheduleMessageServiceOptionsSchema>;
  private readonly offsetFile: JsonConfigFile<DelayOffsetFile>;
  /** Level → next queue offset to deliver. */
  private readonly offsets = new Map<number, number>();
  private readonly levels: LevelState[];
  private persistTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private dirty = false;
  private started = false;
  private stopped = false;

  constructor(
    readonly context: BrokerContext,
    readonly file: string,
    options: ScheduleMessageServiceOptions = {},
  ) {
    this.options = ScheduleMessageServiceOptionsSchema.parse(options);
    this.offsetFile = new JsonConfigFile(file, FileSchema);
    this.levels = context.delayLevels.map((delay, i) => ({ level: i + 1, delay, timer: undefined, running: undefined, idle: false }));
  }

  /** Load progress and start one walker per level. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.load();
    this.unsubscribe = this.context.store.onMessageArrival((topic, queueId) => {
      if (topic === SystemTopic.SCHEDULE) this.wake(queueId + 1);
    });
    for (const state of this.levels) this.schedule(state, 0);
    this.persistTimer = setInterval(() => {
      this.persist().catch((error: unknown) => this.context.log('warn', `could not persist delay offsets: ${(error as Error).message}`));
    }, this.context.config.flushDelayOffsetInterval);
    this.persistTimer.unref();
  }

  /** Stop the walkers, wait for deliveries in flight, and persist progress. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.persistTimer);
    for (const state of this.levels) clearTimeout(state.timer);
    await Promise.all(this.levels.flatMap((state) => (state.running ? [state.running] : [])));
    if (this.started) await this.persist();
  }

  /**
   * A slave's copy of its master's progress (`SlaveSynchronize.syncDelayOffset`): replace the
   * table, answer it from now on and keep it in `delayOffset.json`, so a slave restarted, or
   * inspected with GET_ALL_DELAY_OFFSET, shows where the master's levels were.
   */
  async follow(offsetTable: Record<string, number>): Promise<void> {
    for (const [level, offset] of Object.entries(offsetTable)) {
      const n = Number(level);
      if (Number.isInteger(n) && n >= 1 && n <= this.levels.length) this.setOffset(n, offset);
    }
    await this.persist();
  }

  /** Read the saved progress without delivering anything (a slave answering GET_ALL_DELAY_OFFSET). */
  loadProgress(): void {
    if (!this.started) this.load();
  }

  /** Next queue offset of `level` to deliver (0 when nothing was delivered yet). */
  offsetOf(level: number): number {
    return this.offsets.get(level) ?? 0;
  }

  /** Write progress to `delayOffset.json` if it changed since the last write. */
  async persist(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.offsetFile.save({ offsetTable: Object.fromEntries([...this.offsets].map(([level, offset]) => [String(level), offset])) });
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }

  private load(): void {
    try {
      const saved = this.offsetFile.load();
      for (const [level, offset] of Object.entries(saved?.offsetTable ?? {})) {
        const n = Number(level);
        if (Number.isInteger(n) && n >= 1) this.offsets.set(n, offset);
      }
    } catch (error) {
      // Starting from each level's first message re-delivers rather than loses (at-least-once).
      this.context.log('error', `${(error as Error).message}; delay levels restart from their first stored message`);
    }
  }

  private setOffset(level: number, offset: number): void {
    if (this.offsets.get(level) === offset) return;
    this.offsets.set(level, offset);
    this.dirty = true;
  }

  private schedule(state: LevelState, delay: number, idle = false): void {
    if (this.stopped) return;
    clearTimeout(state.timer);
    state.idle = idle;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.run(state);
    }, delay);
    state.timer.unref();
  }

  private wake(level: number): void {
    const state = this.levels[level - 1];
    if (state?.idle && !state.running) this.schedule(state, 0);
  }

  private run(state: LevelState): void {
    if (this.stopped || state.running) return;
    state.running = this.deliver(state)
      .then(
        (next) => this.schedule(state, next.delay, next.idle),
        (error: unknown) => {
          this.context.log('warn', `delay level ${state.level}: delivery failed: ${(error as Error).message}; retrying in ${this.options.errorInterval} ms`);
          this.schedule(state, this.options.errorInterval);
        },
      )
      .finally(() => {
        state.running = undefined;
      });
  }

  /** One round over a level: deliver what is due; say when to look again. */
  private async deliver(state: LevelState): Promise<{ delay: number; idle: boolean }> {
    const { store, clock, log } = this.context;
    const queueId = state.level - 1;
    const offset = this.offsetOf(state.level);
    const result = await store.getMessage({ topic: SystemTopic.SCHEDULE, queueId, offset, maxCount: this.options.batchSize });
    if (result.status !== GetMessageStatus.FOUND) {
      // Retention removed messages, or the saved offset is past a store that lost its tail: resume
      // where the store says the queue continues.
      if (result.status !== GetMessageStatus.NO_MESSAGE_IN_QUEUE && result.status !== GetMessageStatus.OFFSET_OVERFLOW_ONE && result.status !== GetMessageStatus.NO_MATCHED_LOGIC_QUEUE && result.nextBeginOffset !== offset) {
        log('warn', `delay level ${state.level}: offset ${offset} is not readable (${result.status}); continuing at ${result.nextBeginOffset}`);
        this.setOffset(state.level, result.nextBeginOffset);
        return { delay: 0, idle: false };
      }
      return { delay: this.options.idleInterval, idle: true };
    }
    for (const [i, buffer] of result.buffers.entries()) {
      if (this.stopped) return { delay: 0, idle: false };
      const now = clock();
      // A record too short to hold its store time is due now: the decode below names what is wrong with it.
      const due = deliverTimestamp(recordStoreTimestamp(buffer) ?? now - state.delay, state.delay, now);
      if (due > now) return { delay: due - now, idle: false };
      const queueOffset = result.queueOffsets[i]!;
      const decoded = decodeRecord(buffer, 0);
      if (decoded.kind !== 'record') {
        this.setOffset(state.level, queueOffset + 1);
        continue;
      }
      const message = restoreScheduledMessage(decoded.record);
      if (typeof message === 'string') {
        // Nothing can deliver it; skipping keeps the level moving.
        log('error', `delay level ${state.level}: ${message}; skipping it`);
        this.setOffset(state.level, queueOffset + 1);
        continue;
      }
      const put = await store.put(message);
      if (put.status === PutMessageStatus.MESSAGE_ILLEGAL || put.status === PutMessageStatus.PROPERTIES_SIZE_EXCEEDED) {
        // The store will never take it; retrying would block the whole level.
        log('error', `delay level ${state.level}: the message at queue offset ${queueOffset} cannot be stored on "${message.topic}" (${put.reason ?? put.status}); skipping it`);
        this.setOffset(state.level, queueOffset + 1);
        continue;
      }
      if (put.status !== PutMessageStatus.PUT_OK && put.status !== PutMessageStatus.FLUSH_DISK_TIMEOUT) {
        log('warn', `delay level ${state.level}: could not deliver the message at queue offset ${queueOffset} to "${message.topic}" (${put.status}${put.reason ? `: ${put.reason}` : ''}); retrying in ${this.options.errorInterval} ms`);
        return { delay: this.options.errorInterval, idle: false };
      }
      this.setOffset(state.level, queueOffset + 1);
    }
    this.setOffset(state.level, Math.max(this.offsetOf(state.level), result.nextBeginOffset));
    return { delay: 0, idle: false };
  }
}
