/**
 * Reading the two broker answers that are not standard JSON. RocketMQ writes ConsumeStats (208)
 * and TopicStatsTable (202) with fastjson, whose maps keyed by a MessageQueue put the key object
 * itself in key position: `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}}`.
 * The Karman broker sends the same bytes so Java tools read them unchanged. `@karman/protocol`'s
 * `parseRemotingJson` reads them; this sorts the object-keyed maps for display.
 */
import { ProtocolError, parseRemotingJson } from '@karman/protocol';

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
 * Parse a body whose `offsetTable` (or any map) is keyed by objects; each such map becomes an
 * array of `{ key, value }` sorted by topic, broker name and queue id.
 */
export function parseQueueKeyedJson(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseRemotingJson(text);
  } catch (error) {
    throw new ProtocolError(`the broker's answer is not readable JSON (${(error as Error).message})`, error);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError("the broker's answer is not a JSON object");
  return sortKeyed(parsed) as Record<string, unknown>;
}

/** An array that `parseRemotingJson` made of an object-keyed map: every element a `{ key, value }` with an object key. */
function isKeyedMap(value: unknown[]): value is Array<KeyedEntry<unknown, unknown>> {
  return value.length > 0 && value.every((e) => e !== null && typeof e === 'object' && 'key' in e && 'value' in e && typeof (e as KeyedEntry<unknown, unknown>).key === 'object');
}

function sortKeyed(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (!isKeyedMap(value)) return value.map(sortKeyed);
    return value.map((e) => ({ key: e.key, value: sortKeyed(e.value) })).sort((a, b) => compareKeys(a.key as Partial<QueueKey>, b.key as Partial<QueueKey>));
  }
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, sortKeyed(v)]));
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
