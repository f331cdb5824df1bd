import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { createOffsetMessageId, createUniqueId, decodeOffsetMessageId, decodeUniqueId, encodeUniqueId } from './message-id.js';
import { normalizeHost } from './message-record.js';

const offset = fc.maxSafeInteger().map((n) => Math.abs(n));

describe('offset message id', () => {
  it('is store IP, port and offset in upper-case hex (worked out by hand)', () => {
    // 10.0.0.1 = 0A000001, port 10911 = 0x2A9F, offset 4096 = 0x1000
    expect(createOffsetMessageId({ host: '10.0.0.1', port: 10911 }, 4096)).toBe('0A000001' + '00002A9F' + '0000000000001000');
    expect(createOffsetMessageId({ host: '::1', port: 1 }, 0)).toBe('00'.repeat(15) + '01' + '00000001' + '0'.repeat(16));
  });

  it('round-trips IPv4 (32 chars) and IPv6 (56 chars) hosts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), offset, (host, port, physicalOffset) => {
        const id = createOffsetMessageId({ host, port }, physicalOffset);
        expect(id).toMatch(/^[0-9A-F]+$/);
        expect(id.length).toBe(host.includes(':') ? 56 : 32);
        expect(decodeOffsetMessageId(id)).toEqual({ host: { host: normalizeHost(host), port }, physicalOffset });
        expect(decodeOffsetMessageId(id.toLowerCase())).toEqual(decodeOffsetMessageId(id));
      }),
    );
  });

  it('rejects malformed ids with a ProtocolError saying what is wrong', () => {
    expect(() => decodeOffsetMessageId('ABC')).toThrow(/32 \(IPv4\) or 56/);
    expect(() => decodeOffsetMessageId('Z'.repeat(32))).toThrow(ProtocolError);
    expect(() => decodeOffsetMessageId('7F000001' + 'FFFFFFFF' + '0000000000000000')).toThrow(/port/);
    expect(() => decodeOffsetMessageId('7F000001' + '00000001' + 'FFFFFFFFFFFFFFFF')).toThrow(/2\^53/);
    expect(() => decodeOffsetMessageId(undefined as unknown as string)).toThrow(ProtocolError);
  });

  it('refuses a host name, a bad port or a negative offset when creating', () => {
    expect(() => createOffsetMessageId({ host: 'broker-a', port: 1 }, 0)).toThrow(InvalidArgumentError);
    expect(() => createOffsetMessageId({ host: '1.2.3.4', port: 70000 }, 0)).toThrow(/port/);
    expect(() => createOffsetMessageId({ host: '1.2.3.4', port: 1 }, -1)).toThrow(/offset/);
  });
});

describe('unique client id (UNIQ_KEY)', () => {
  it('lays out IP, pid, class-loader hash, month time and counter (worked out by hand)', () => {
    const id = encodeUniqueId({ ip: '192.168.1.2', pid: 0x12345, classLoaderHash: -1, elapsedInMonth: 0x01020304, counter: 7 });
    expect(id).toBe('C0A80102' + '2345' + 'FFFFFFFF' + '01020304' + '0007');
  });

  it('round-trips its fields', () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 31 * 86_400_000 }),
        fc.integer({ min: 0, max: 0xffff }),
        (ip, pid, classLoaderHash, elapsedInMonth, counter) => {
          const parts = { ip, pid, classLoaderHash, elapsedInMonth, counter };
          expect(decodeUniqueId(encodeUniqueId(parts))).toEqual(parts);
        },
      ),
    );
  });

  it('creates 32 upper-case hex ids carrying this process, the month time and a counter', () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => createUniqueId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9A-F]{32}$/);
    const first = decodeUniqueId(ids[0] ?? '');
    const second = decodeUniqueId(ids[1] ?? '');
    expect(first.pid).toBe(process.pid & 0xffff);
    expect(second.classLoaderHash).toBe(first.classLoaderHash);
    expect(second.counter).toBe((first.counter + 1) & 0xffff);
    const now = new Date(before);
    const monthStart = new Date(now.getFullYear(), now.getMonth(), 1).getTime();
    expect(first.elapsedInMonth).toBeGreaterThanOrEqual(before - monthStart);
    expect(first.elapsedInMonth).toBeLessThanOrEqual(Date.now() - monthStart);
  });

  it('rejects malformed ids', () => {
    expect(() => decodeUniqueId('00')).toThrow(ProtocolError);
    expect(() => encodeUniqueId({ ip: '::1', pid: 0, classLoaderHash: 0, elapsedInMonth: 0, counter: 0 })).toThrow(/IPv4/);
  });
});
