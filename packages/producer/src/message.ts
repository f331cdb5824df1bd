/**
 * What a producer sends and what it gets back. Field names follow RocketMQ's `Message` and
 * `SendResult`; bodies may be strings (UTF-8) or bytes.
 */
import type { MessageQueue } from '@karman/client';

export interface Message {
  topic: string;
  body: Uint8Array | string;
  /** One tag, used for server-side filtering (`TAGS`). */
  tags?: string;
  /** Business keys, indexed for `queryMsgByKey` (`KEYS`, space-separated on the wire). */
  keys?: string | readonly string[];
  /** User properties. Names RocketMQ reserves (TAGS, KEYS, DELAY, ...) are refused. */
  properties?: Record<string, string>;
  /** Delay level 1–18 (1s 5s 10s 30s 1m ... 2h by default); 0 or absent sends at once. */
  delayLevel?: number;
  /** Whether the broker answers only after storing (`WAIT`, default true). */
  waitStoreMsgOK?: boolean;
  /** User flag stored with the message. */
  flag?: number;
}

/** How a stored message ended. The last three still mean stored. */
export const SendStatus = {
  SEND_OK: 'SEND_OK',
  FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT',
  FLUSH_SLAVE_TIMEOUT: 'FLUSH_SLAVE_TIMEOUT',
  SLAVE_NOT_AVAILABLE: 'SLAVE_NOT_AVAILABLE',
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

export interface SendResult {
  status: SendStatus;
  /** The client-assigned unique id (`UNIQ_KEY`), what consumers see as `msgId`. */
  msgId: string;
  /** The broker's offset id (store host + commit-log offset). */
  offsetMsgId: string;
  messageQueue: MessageQueue;
  queueOffset: number;
}
