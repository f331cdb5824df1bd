/**
 * Expected outcomes of store calls are statuses on result objects, not exceptions: RocketMQ's
 * `PutMessageStatus` and `GetMessageStatus` with the same names.
 */

/** Outcome of an append. */
export const PutMessageStatus = {
  /** Stored (and, with SYNC_FLUSH, flushed). */
  PUT_OK: 'PUT_OK',
  /** Stored and readable, but not flushed within `syncFlushTimeout`. */
  FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT',
  /** Stored on this master, but its slave did not confirm the bytes within `slaveTimeout` (SYNC_MASTER). */
  FLUSH_SLAVE_TIMEOUT: 'FLUSH_SLAVE_TIMEOUT',
  /** Stored on this master, but no slave is connected or it is too far behind to wait for (SYNC_MASTER). */
  SLAVE_NOT_AVAILABLE: 'SLAVE_NOT_AVAILABLE',
  /** The store is closed, failed a write, or the disk is over `diskSpaceWarningLevelRatio`. */
  SERVICE_NOT_AVAILABLE: 'SERVICE_NOT_AVAILABLE',
  /** The message breaks a limit (body size, topic, queue id, record size); see `reason`. */
  MESSAGE_ILLEGAL: 'MESSAGE_ILLEGAL',
  /** Encoded properties exceed 32,767 bytes. */
  PROPERTIES_SIZE_EXCEEDED: 'PROPERTIES_SIZE_EXCEEDED',
  /** The write to disk failed; the store stops accepting appends until reopened. */
  UNKNOWN_ERROR: 'UNKNOWN_ERROR',
} as const;
export type PutMessageStatus = (typeof PutMessageStatus)[keyof typeof PutMessageStatus];

/** Outcome of a read from a consume queue. */
export const GetMessageStatus = {
  FOUND: 'FOUND',
  /** Messages exist at the offset but none has a wanted tag code (or their data was deleted). */
  NO_MATCHED_MESSAGE: 'NO_MATCHED_MESSAGE',
  /** The queue has never held a message. */
  NO_MESSAGE_IN_QUEUE: 'NO_MESSAGE_IN_QUEUE',
  /** The offset is below the queue's minimum (deleted by retention). */
  OFFSET_TOO_SMALL: 'OFFSET_TOO_SMALL',
  /** The offset equals the queue's maximum: nothing new yet (a long poll waits here). */
  OFFSET_OVERFLOW_ONE: 'OFFSET_OVERFLOW_ONE',
  /** The offset is beyond the queue's maximum. */
  OFFSET_OVERFLOW_BADLY: 'OFFSET_OVERFLOW_BADLY',
  /** The consume-queue file for the offset is gone. */
  OFFSET_FOUND_NULL: 'OFFSET_FOUND_NULL',
  /** No consume queue for (topic, queueId). */
  NO_MATCHED_LOGIC_QUEUE: 'NO_MATCHED_LOGIC_QUEUE',
} as const;
export type GetMessageStatus = (typeof GetMessageStatus)[keyof typeof GetMessageStatus];
