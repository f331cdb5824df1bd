import { describe, expect, it } from 'vitest';
import { HEADER_SIZE, decodeBody, encodeBody } from './bench-body.js';
import { DeliveryLedger } from './delivery-ledger.js';

describe('bench bodies', () => {
  it('round-trip run id, sequence and born time at any size from the header up', () => {
    for (const size of [HEADER_SIZE, 100, 1024, 70_000]) {
      const body = encodeBody(size, 0xdeadbeef, 123_456, 1_700_000_000_000.125);
      expect(body.length).toBe(size);
      expect(decodeBody(body)).toEqual({ ok: true, runId: 0xdeadbeef, sequence: 123_456, bornMillis: 1_700_000_000_000.125 });
    }
  });

  it('names what is wrong with a damaged body', () => {
    const body = encodeBody(256, 7, 1);
    const flipped = Buffer.from(body);
    flipped[200] = flipped[200]! ^ 1;
    expect(decodeBody(flipped)).toEqual({ ok: false, reason: 'bad-checksum' });
    expect(decodeBody(body.subarray(0, 255))).toEqual({ ok: false, reason: 'wrong-size' });
    expect(decodeBody(Buffer.from('hello world, this is not a bench body'))).toEqual({ ok: false, reason: 'not-a-bench-body' });
  });
});

describe('DeliveryLedger', () => {
  it('counts distinct messages, duplicates, corrupt bodies and other runs apart', () => {
    const ledger = new DeliveryLedger(1, () => 1_000.5);
    expect(ledger.accept(encodeBody(64, 1, 0, 1_000))).toBe(500);
    ledger.accept(encodeBody(64, 1, 100_000, 1_000));
    ledger.accept(encodeBody(64, 1, 0, 1_000));
    ledger.accept(encodeBody(64, 2, 5, 1_000));
    const bad = encodeBody(64, 1, 3, 1_000);
    bad[40] = bad[40]! ^ 0xff;
    ledger.accept(bad);
    expect(ledger.snapshot()).toEqual({ received: 2, duplicates: 1, corrupt: 1, corruptByReason: { 'bad-checksum': 1 }, otherRuns: 1 });
    expect(ledger.latency.count).toBe(2);
    expect(ledger.latency.max).toBe(500);
  });

  it('keeps runs apart when it follows every run', () => {
    const ledger = new DeliveryLedger();
    ledger.accept(encodeBody(64, 1, 0));
    ledger.accept(encodeBody(64, 2, 0));
    expect(ledger.snapshot().received).toBe(2);
  });
});
