/**
 * Human output: mqadmin prints `#Column` headed tables padded to the widest cell; this does the same
 * with columns sized to their content. Also a message view shared by the message commands.
 */
import { createOffsetMessageId, uncompressedBody } from '@karman/protocol';
import type { MessageRecord } from '@karman/protocol';
import { printable } from './printable.js';

/** Rows under `#Header` columns, each column as wide as its widest cell. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean>>): string {
  const cells = [headers.map((h) => `#${h}`), ...rows.map((r) => r.map((c) => printable(String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return `${cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** `key = value` lines sorted by key, as mqadmin prints configs and runtime tables. */
export function keyValues(values: Record<string, unknown>): string {
  const keys = Object.keys(values).sort();
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `${printable(k).padEnd(width)} : ${printable(String(values[k]))}\n`).join('');
}

/** A local timestamp as mqadmin prints it (`yyyy-MM-dd HH:mm:ss,SSS`); 0 means never. */
export function formatTime(ms: number): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** A stored message as the commands show it (`--json` prints this object). */
export interface MessageView {
  /** Client-assigned unique id (UNIQ_KEY); the offset id when the producer set none. */
  msgId: string;
  offsetMsgId: string;
  topic: string;
  tags: string | null;
  keys: string | null;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  reconsumeTimes: number;
  bornTimestamp: number;
  storeTimestamp: number;
  bornHost: string;
  storeHost: string;
  sysFlag: number;
  properties: Record<string, string>;
  /** The body as UTF-8 text; empty when it cannot be shown (see `bodyError`). */
  body: string;
  /** Why the body is not shown: it is flagged compressed and inflates past 4 MiB or is not zlib data. */
  bodyError?: string;
}

/** The body as text, or why it cannot be shown: one bad body must not hide the other messages listed. */
function bodyText(record: MessageRecord): { body: string; bodyError?: string } {
  try {
    return { body: Buffer.from(uncompressedBody(record.body, record.sysFlag)).toString('utf8') };
  } catch (error) {
    return { body: '', bodyError: (error as Error).message };
  }
}

/** The view of a decoded record: body inflated when compressed (at most 4 MiB), ids computed. */
export function messageView(record: MessageRecord): MessageView {
  const offsetMsgId = createOffsetMessageId(record.storeHost, record.physicalOffset);
  return {
    msgId: record.properties.UNIQ_KEY ?? offsetMsgId,
    offsetMsgId,
    topic: record.topic,
    tags: record.properties.TAGS ?? null,
    keys: record.properties.KEYS ?? null,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    commitLogOffset: record.physicalOffset,
    reconsumeTimes: record.reconsumeTimes,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    bornHost: `${record.bornHost.host}:${record.bornHost.port}`,
    storeHost: `${record.storeHost.host}:${record.storeHost.port}`,
    sysFlag: record.sysFlag,
    properties: record.properties,
    ...bodyText(record),
  };
}

/** The body as printed: the text, or why it is not shown. */
export function shownBody(view: MessageView): string {
  return view.bodyError === undefined ? view.body : `(not shown: ${view.bodyError})`;
}

/** mqadmin's message detail block (`queryMsgById` and friends). */
export function messageDetail(view: MessageView): string {
  const rows: Array<[string, string | number]> = [
    ['OffsetID', view.offsetMsgId],
    ['Topic', view.topic],
    ['Tags', `[${view.tags ?? ''}]`],
    ['Keys', `[${view.keys ?? ''}]`],
    ['Queue ID', view.queueId],
    ['Queue Offset', view.queueOffset],
    ['CommitLog Offset', view.commitLogOffset],
    ['Reconsume Times', view.reconsumeTimes],
    ['Born Timestamp', formatTime(view.bornTimestamp)],
    ['Store Timestamp', formatTime(view.storeTimestamp)],
    ['Born Host', view.bornHost],
    ['Store Host', view.storeHost],
    ['System Flag', view.sysFlag],
    ['Properties', JSON.stringify(view.properties)],
    ['Message Body', shownBody(view)],
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(20)}: ${v}`).join('\n')}\n`;
}
