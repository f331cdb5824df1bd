/**
 * Reading and writing remoting JSON bodies as fastjson writes them. RocketMQ's Java side serializes some
 * answers (ConsumeStats, TopicStatsTable) with maps keyed by objects, which is not JSON:
 * `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}}`. The broker writes the same
 * bytes so Java tools read them unchanged; this reads them back for Karman's tools and tests, and
 * writes them for the bodies Karman's broker and clients send (offset tables keyed by queue).
 */

/**
 * Parse a remoting JSON body as fastjson writes it: standard JSON, plus maps whose keys are
 * objects (ConsumeStats, TopicStatsTable). An object whose keys are all strings becomes a plain
 * object; one with any non-string key becomes an array of `{ key, value }`. Throws a SyntaxError
 * naming the position of the first unreadable character.
 */
export function parseRemotingJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i} of the remoting JSON`);
  };
  const space = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    space();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') {
      i++;
      const out: unknown[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        space();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return out;
        } else fail('expected , or ]');
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) fail('unterminated string');
      i++;
      return JSON.parse(text.slice(start, i)) as string;
    }
    const match = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
    if (!match) return fail('unexpected character');
    i += match[0].length;
    return JSON.parse(match[0]) as unknown;
  };
  const object = (): unknown => {
    i++;
    const entries: Array<{ key: unknown; value: unknown }> = [];
    space();
    if (text[i] === '}') {
      i++;
      return {};
    }
    for (;;) {
      const key = value();
      space();
      if (text[i] !== ':') fail('expected :');
      i++;
      entries.push({ key, value: value() });
      space();
      if (text[i] === ',') i++;
      else if (text[i] === '}') {
        i++;
        break;
      } else fail('expected , or }');
    }
    if (entries.every((e) => typeof e.key === 'string')) {
      const out: Record<string, unknown> = {};
      for (const e of entries) Object.defineProperty(out, e.key as string, { value: e.value, enumerable: true, writable: true, configurable: true });
      return out;
    }
    return entries;
  };
  const result = value();
  space();
  if (i < text.length) fail('unexpected trailing text');
  return result;
}

/** A copy of `value` with its keys in alphabetical order, as fastjson writes a bean. */
function sortedKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Write a map whose keys are objects as fastjson does: `{<key json>:<value json>,...}`, each key
 * object with its fields in alphabetical order (ConsumeStats, TopicStatsTable, ResetOffsetBody,
 * GetConsumerStatusBody). What `parseRemotingJson` reads back.
 */
export function encodeObjectKeyMap(entries: ReadonlyArray<readonly [Record<string, unknown>, unknown]>): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(sortedKeys(key))}:${JSON.stringify(value)}`).join(',')}}`;
}

/** A queue and its offset, one entry of a `Map<MessageQueue, Long>`. */
export interface QueueOffset {
  queue: { topic: string; brokerName: string; queueId: number };
  offset: number;
}

/**
 * The entries of a `Map<MessageQueue, Long>` as `parseRemotingJson` returns it (an array of
 * `{ key, value }`, or `{}` when empty), e.g. ResetOffsetBody's `offsetTable`. Entries that are not
 * a queue with an integer offset are left out; `undefined` when the value is no such map at all.
 */
export function readQueueOffsets(value: unknown): QueueOffset[] | undefined {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return [];
  if (!Array.isArray(value)) return undefined;
  const out: QueueOffset[] = [];
  for (const entry of value as Array<{ key?: unknown; value?: unknown }>) {
    const key = entry?.key as { topic?: unknown; brokerName?: unknown; queueId?: unknown } | undefined;
    if (!key || typeof key.topic !== 'string' || typeof key.brokerName !== 'string' || !Number.isSafeInteger(key.queueId) || !Number.isSafeInteger(entry.value)) continue;
    out.push({ queue: { topic: key.topic, brokerName: key.brokerName, queueId: key.queueId as number }, offset: entry.value as number });
  }
  return out;
}

/** Write queue offsets as fastjson writes a `Map<MessageQueue, Long>` (the inverse of `readQueueOffsets`). */
export function encodeQueueOffsets(entries: readonly QueueOffset[]): string {
  return encodeObjectKeyMap(entries.map(({ queue, offset }) => [{ brokerName: queue.brokerName, queueId: queue.queueId, topic: queue.topic }, offset] as const));
}
