/**
 * Dispatch: how consume queues and the key index are built from the commit log.
 * Every stored record becomes one `DispatchRequest`, handed to each dispatcher in commit-log order,
 * once when appended and again during recovery for records past the dispatchers' checkpoints.
 * Dispatchers must therefore treat a request they have already seen as a no-op.
 */

/** One stored record, as the dispatchers see it. */
export interface DispatchRequest {
  topic: string;
  queueId: number;
  /** Physical offset of the record in the commit log. */
  commitLogOffset: number;
  /** Record size in bytes (TOTALSIZE). */
  msgSize: number;
  /** Java hashCode of the TAGS property, 0 without tags. */
  tagsCode: number;
  storeTimestamp: number;
  /** Logical offset of the record in its consume queue. */
  consumeQueueOffset: number;
  /** The KEYS property (space-separated keys), if any. */
  keys?: string;
  /** The UNIQ_KEY property (client message id), if any. */
  uniqKey?: string;
  sysFlag: number;
  preparedTransactionOffset: number;
}

/** Builds something from the commit log; RocketMQ's one-method `CommitLogDispatcher`. */
export interface CommitLogDispatcher {
  dispatch(request: DispatchRequest): void;
}

/**
 * Told about each message once it is readable from its consume queue, so a broker can wake the
 * long polls waiting on (topic, queueId). `logicOffset` is the message's queue offset.
 */
export type MessageArrivingListener = (topic: string, queueId: number, logicOffset: number, tagsCode: number) => void;
