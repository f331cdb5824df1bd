import { afterEach, describe, expect, it, vi } from 'vitest';
import { serviceMissing } from '../src/index.js';

describe('serviceMissing', () => {
  const saved = process.env['CI'];
  afterEach(() => {
    if (saved === undefined) delete process.env['CI'];
    else process.env['CI'] = saved;
    vi.restoreAllMocks();
  });

  it('fails under CI, naming the suite and what is missing', () => {
    process.env['CI'] = 'true';
    expect(() => serviceMissing('dedup Redis conformance', 'Redis at redis://127.0.0.1:6379 is unreachable')).toThrow(
      /^dedup Redis conformance: Redis at redis:\/\/127\.0\.0\.1:6379 is unreachable \(under CI every service suite must run/,
    );
  });

  it('elsewhere prints one skip line and returns the reason; a present service is no reason', () => {
    delete process.env['CI'];
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(serviceMissing('peer drivers', 'NATS is not reachable')).toBe('NATS is not reachable');
    expect(warn.mock.calls).toEqual([['[peer drivers] skipped: NATS is not reachable']]);
    expect(serviceMissing('peer drivers', undefined)).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
