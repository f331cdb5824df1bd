import { expect, it } from 'vitest';
import { formatLogLine } from './log-line.js';

it('shows a pino line as time, source, level, message and the remaining fields', () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
  const line = JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', name: 'karman-broker', msg: 'disk almost full', ratio: 0.9, store: '/data' });
  expect(formatLogLine('broker-a', line)).toBe('03:04:05.006 broker-a     WARN  disk almost full ratio=0.9 store=/data');
  expect(formatLogLine('namesrv', 'plain text')).toBe('namesrv      plain text');
  expect(formatLogLine('namesrv', '42')).toBe('namesrv      42');
});
