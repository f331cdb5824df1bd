import { expect, it } from 'vitest';
import { formatLogLine } from './log-line.js';

it('shows a pino line as time, source, level, message and the remaining fields', () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
  const line = JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', name: 'karman-broker', msg: 'disk almost full', ratio: 0.9, store: '/data' });
  expect(formatLogLine('broker-a', line)).toBe('03:04:05.006 broker-a     WARN  disk almost full ratio=0.9 store=/data');
  expect(formatLogLine('namesrv', 'plain text')).toBe('namesrv      plain text');
  expect(formatLogLine('namesrv', '42')).toBe('namesrv      42');
});

it('shows control characters from remote names as escapes, so a group name cannot drive the terminal', () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
  const line = JSON.stringify({ level: 30, time, msg: 'group created\u001b[2J', group: 'evil\u001b]0;owned\u0007\nFORGED LINE' });
  expect(formatLogLine('broker-a', line)).toBe('03:04:05.006 broker-a     INFO  group created\\x1b[2J group=evil\\x1b]0;owned\\x07\\x0aFORGED LINE');
  expect(formatLogLine('namesrv', 'raw \u009b31m text')).toBe('namesrv      raw \\x9b31m text');
});
