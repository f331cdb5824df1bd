/**
 * The local cluster's log view: the servers write pino JSON lines (one object per line, numeric
 * `level`, epoch-ms `time`); a person at a terminal reads `HH:MM:SS.mmm source LEVEL message
 * key=value ...` instead.
 */

import { printable } from './printable.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** One pino JSON line as `HH:MM:SS.mmm label LEVEL message key=value ...`; other text as is. */
export function formatLogLine(label: string, line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return `${label.padEnd(12)} ${printable(line)}`;
  const entry = parsed as Record<string, unknown>;
  const at = new Date(typeof entry.time === 'number' ? entry.time : Date.now());
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  // Local time: the person reading it compares with their clock.
  const time = `${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}.${p(at.getMilliseconds(), 3)}`;
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN_FIELDS.has(k))
    .map(([k, v]) => `${printable(k)}=${printable(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join(' ');
  return `${time} ${label.padEnd(12)} ${LEVELS[entry.level as number] ?? 'INFO '} ${printable(String(entry.msg ?? ''))}${fields ? ` ${fields}` : ''}`;
}

