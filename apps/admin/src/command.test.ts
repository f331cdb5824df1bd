import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
import { boolFlag, intFlag, parseTime } from './command.js';
import type { CommandContext } from './command.js';

function context(flags: Record<string, string | boolean | undefined>): CommandContext {
  return { flags, admin: undefined as never, warn: () => undefined, now: () => 0 };
}

describe('flag values', () => {
  it('reads mqadmin times: now, epoch ms, yyyy-MM-dd#HH:mm:ss:SSS in local time, ISO dates', () => {
    expect(parseTime('now', 1234, 's')).toBe(1234);
    expect(parseTime('1700000000000', 0, 's')).toBe(1_700_000_000_000);
    expect(parseTime('2026-01-31#09:15:30:250', 0, 's')).toBe(new Date(2026, 0, 31, 9, 15, 30, 250).getTime());
    expect(parseTime('2026-01-31T09:15:30Z', 0, 's')).toBe(Date.UTC(2026, 0, 31, 9, 15, 30));
    expect(() => parseTime('yesterday', 0, 'timestamp')).toThrow('--timestamp "yesterday" is not a time');
  });

  it('reads integers within range and booleans as true/false, naming the flag when wrong', () => {
    expect(intFlag(context({ perm: '4' }), 'perm', 6, 0, 15)).toBe(4);
    expect(intFlag(context({}), 'perm', 6, 0, 15)).toBe(6);
    expect(() => intFlag(context({ perm: '16' }), 'perm', 6, 0, 15)).toThrow(InvalidArgumentError);
    expect(() => intFlag(context({}), 'offset', undefined)).toThrow('--offset is required');
    expect(boolFlag(context({ order: 'true' }), 'order', false)).toBe(true);
    expect(boolFlag(context({}), 'order', false)).toBe(false);
    expect(() => boolFlag(context({ order: 'yes' }), 'order', false)).toThrow('--order "yes" is neither true nor false');
  });
});
