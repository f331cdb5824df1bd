/**
 * Reading the two broker answers that are not standard JSON. RocketMQ writes ConsumeStats (208)
 * and TopicStatsTable (202) with fastjson, whose maps keyed by a MessageQueue put the key object
 * itself in key position: `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}}`.
 * The Karman broker sends the same bytes so Java tools read them unchanged.
 *
 * The broker package has a general reader (`parseRemotingJson` in its admin processor) that is not
 * part of its public surface; until it is, this reads the one shape these answers have: flat key
 * objects (a MessageQueue has only string and number fields, and topic and broker names cannot hold
 * braces), which are quoted into string keys so `JSON.parse` can read the rest.
 */
import { ProtocolError } from '@karman/protocol';

/** One entry of an object-keyed map. */
export interface KeyedEntry<K, V> {
  key: K;
  value: V;
}

/** A MessageQueue key as the broker writes it. */
export interface QueueKey {
  brokerName: string;
  queueId: number;
  topic: string;
}

/**
 * Parse a body whose `offsetTable` (or any map) is keyed by flat objects; each such map becomes an
 * array of `{ key, value }` sorted by topic, broker name and queue id.
 */
export function parseQueueKeyedJson(text: string): Record<string, unknown> {
  const quoted = text.replace(/([{,]\s*)(\{[^{}]*\})(\s*):/g, (_all, lead: string, key: string, gap: string) => `${lead}${JSON.stringify(`\u0000${key}`)}${gap}:`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoted);
  } catch (error) {
    throw new ProtocolError(`the broker's answer is not readable JSON (${(error as Error).message})`, error);
  }
  return unkey(parsed) as Record<string, unknown>;
}

function unkey(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unkey);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 0 && entries.every(([k]) => k.startsWith('\u0000'))) {
    return entries
      .map(([k, v]) => ({ key: JSON.parse(k.slice(1)) as unknown, value: unkey(v) }))
      .sort((a, b) => compareKeys(a.key as Partial<QueueKey>, b.key as Partial<QueueKey>));
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, unkey(v)]));
}

function compareKeys(a: Partial<QueueKey>, b: Partial<QueueKey>): number {
  return (a.topic ?? '').localeCompare(b.topic ?? '') || (a.brokerName ?? '').localeCompare(b.brokerName ?? '') || (a.queueId ?? 0) - (b.queueId ?? 0);
}

/** The `offsetTable` of a ConsumeStats or TopicStatsTable body. */
export function offsetTable<V>(text: string): Array<KeyedEntry<QueueKey, V>> {
  const table = parseQueueKeyedJson(text).offsetTable;
  if (table === undefined || (typeof table === 'object' && table !== null && !Array.isArray(table) && Object.keys(table).length === 0)) return [];
  if (!Array.isArray(table)) throw new ProtocolError('the broker answered an offsetTable that is not keyed by queue');
  return table as Array<KeyedEntry<QueueKey, V>>;
}
