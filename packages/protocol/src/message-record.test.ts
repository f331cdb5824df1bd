import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { decodeBatch, encodeBatch } from './message-batch.js';
import { decodeOffsetMessageId } from './message-id.js';
import {
  BLANK_RECORD_SIZE,
  bodyCrc32,
  decodeRecord,
  decodeRecords,
  encodeBlankRecord,
  encodeRecord,
  MessageMagic,
  MessageSysFlag,
  normalizeHost,
  prepareRecord,
  RECORD_FIXED_OVERHEAD_V1_IPV4,
  recordFieldPositions,
  recordPhysicalOffset,
  recordStoreTimestamp,
  writeRecord,
} from './message-record.js';
import type { MessageRecord, RecordInput } from './message-record.js';
import { decodeProperties } from './properties.js';

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const safeNonNegative = fc.maxSafeInteger().map((n) => Math.abs(n));
const propertyKey = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }).filter((k) => !k.includes('\u0001') && !k.includes('\u0002'));
const propertyValue = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 32 }).filter((v) => !v.includes('\u0002'));
const host = fc.record({ host: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 0, max: 65535 }) });
/** Short topics take V1 magic; topics over 127 UTF-8 bytes take V2. */
const topic = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 128, maxLength: 400 }),
);
// The IPv6 bits are derived from the hosts, so the generated flag leaves them clear.
const sysFlag = int32.map((f) => f & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6));

const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  queueId: int32,
  flag: int32,
  queueOffset: safeNonNegative,
  physicalOffset: safeNonNegative,
  sysFlag,
  bornTimestamp: safeNonNegative,
  bornHost: host,
  storeTimestamp: safeNonNegative,
  storeHost: host,
  reconsumeTimes: int32,
  preparedTransactionOffset: safeNonNegative,
  body: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  topic,
  properties: fc.dictionary(propertyKey, propertyValue, { maxKeys: 8 }),
});

function sample(overrides: Partial<RecordInput> = {}): RecordInput {
  return {
    queueId: 1,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { host: '10.0.0.2', port: 50000 },
    storeTimestamp: 0,
    storeHost: { host: '10.0.0.1', port: 10911 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from('hello'),
    topic: 'TopicTest',
    properties: { TAGS: 'TagA' },
    ...overrides,
  };
}

/** What decoding an encoded input must give back. */
function expected(input: RecordInput, bytes: Buffer): MessageRecord {
  const bornV6 = input.bornHost.host.includes(':');
  const storeV6 = input.storeHost.host.includes(':');
  return {
    ...input,
    totalSize: bytes.length,
    magic: Buffer.byteLength(input.topic) > 127 ? MessageMagic.V2 : MessageMagic.V1,
    bodyCrc: bodyCrc32(input.body),
    sysFlag: input.sysFlag | (bornV6 ? MessageSysFlag.BORNHOST_V6 : 0) | (storeV6 ? MessageSysFlag.STOREHOST_V6 : 0),
    bornHost: { host: normalizeHost(input.bornHost.host), port: input.bornHost.port },
    storeHost: { host: normalizeHost(input.storeHost.host), port: input.storeHost.port },
  };
}

function decodeOne(bytes: Buffer, offset = 0, checkCrc = false): MessageRecord {
  const decoded = decodeRecord(bytes, offset, { checkCrc });
  if (decoded.kind !== 'record') throw new Error(`expected a record, got ${decoded.kind}`);
  return { ...decoded.record, properties: { ...decoded.record.properties } };
}

describe('encodeRecord / decodeRecord', () => {
  it('round-trips any record: IPv4 and IPv6 hosts, V1 and V2 topics, unicode properties', () => {
    fc.assert(
      fc.property(recordInput, fc.nat(64), (input, lead) => {
        const bytes = encodeRecord(input);
        expect(bytes.readInt32BE(0)).toBe(bytes.length);
        // Decode it from the middle of a larger buffer, as a pull body or a segment holds it.
        const framed = Buffer.concat([Buffer.alloc(lead, 0xee), bytes, Buffer.alloc(7, 0xee)]);
        const decoded = decodeRecord(framed, lead, { checkCrc: true });
        expect(decoded.kind).toBe('record');
        expect(decoded.size).toBe(bytes.length);
        expect(decodeOne(framed, lead, true)).toEqual(expected(input, bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes runs whose topics and hosts change from record to record (the decoder reuses repeated ones)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('TopicA', 'TopicB', 'Topic\u00e9', 'T'), fc.constantFrom('10.0.0.1', '10.0.0.2', '::1')), { minLength: 1, maxLength: 12 }), recordInput, (picks, template) => {
        const inputs = picks.map(([topic, host]) => ({ ...template, topic, storeHost: { host, port: 10911 } }));
        const decoded = decodeRecords(Buffer.concat(inputs.map((input) => encodeRecord(input))));
        expect(decoded.map((r) => [r.topic, r.storeHost.host])).toEqual(picks);
      }),
      { numRuns: 100 },
    );
  });

  it('has the 91-byte fixed overhead for IPv4 hosts and V1 magic, and 24 more bytes for two IPv6 hosts', () => {
    const bytes = encodeRecord(sample({ body: Buffer.alloc(0), topic: 'T', properties: {} }));
    expect(bytes.length).toBe(RECORD_FIXED_OVERHEAD_V1_IPV4 + 1);
    const v6 = encodeRecord(sample({ body: Buffer.alloc(0), topic: 'T', properties: {}, bornHost: { host: '::1', port: 1 }, storeHost: { host: 'fe80::1', port: 2 } }));
    expect(v6.length).toBe(RECORD_FIXED_OVERHEAD_V1_IPV4 + 1 + 24);
    expect(v6.readInt32BE(36) & 0x30).toBe(0x30);
  });

  it('switches to V2 magic with a 2-byte topic length above 127 bytes', () => {
    const at127 = encodeRecord(sample({ topic: 'x'.repeat(127) }));
    const at128 = encodeRecord(sample({ topic: 'x'.repeat(128) }));
    expect(at127.readInt32BE(4)).toBe(MessageMagic.V1);
    expect(at128.readInt32BE(4)).toBe(MessageMagic.V2);
    expect(at128.length - at127.length).toBe(2);
  });

  it('keeps the body a view into the input buffer (no copy)', () => {
    const bytes = encodeRecord(sample());
    expect(decodeOne(bytes).body.buffer).toBe(bytes.buffer);
  });

  it('gives the positions the store patches, for IPv4 and IPv6 born hosts', () => {
    for (const bornHost of [{ host: '1.2.3.4', port: 5 }, { host: '2001:db8::7', port: 5 }]) {
      const bytes = encodeRecord(sample({ bornHost }));
      const positions = recordFieldPositions(bytes.readInt32BE(36));
      bytes.writeBigInt64BE(42n, positions.queueOffset);
      bytes.writeBigInt64BE(123_456_789_012n, positions.physicalOffset);
      bytes.writeBigInt64BE(1_700_000_000_123n, positions.storeTimestamp);
      const record = decodeOne(bytes);
      expect([record.queueOffset, record.physicalOffset, record.storeTimestamp]).toEqual([42, 123_456_789_012, 1_700_000_000_123]);
      expect(record.bornHost).toEqual({ host: normalizeHost(bornHost.host), port: 5 });
    }
  });

  it('reads a stored record\'s store time and physical offset in place, for IPv4 and IPv6 born hosts, past 2^32, at any start', () => {
    for (const bornHost of [{ host: '1.2.3.4', port: 5 }, { host: '2001:db8::7', port: 5 }]) {
      const record = encodeRecord(sample({ bornHost, storeTimestamp: 1_700_000_000_123, physicalOffset: 2 ** 32 + 17 }));
      const stream = Buffer.concat([Buffer.alloc(13, 0xee), record]);
      expect([recordStoreTimestamp(record), recordPhysicalOffset(record)]).toEqual([1_700_000_000_123, 2 ** 32 + 17]);
      expect([recordStoreTimestamp(stream, 13), recordPhysicalOffset(stream, 13)]).toEqual([1_700_000_000_123, 2 ** 32 + 17]);
      // A head cut before the field (a short read at the log's end) has no store time rather than a wrong one.
      const storeAt = recordFieldPositions(record.readInt32BE(36)).storeTimestamp;
      expect(recordStoreTimestamp(record.subarray(0, storeAt + 7))).toBeUndefined();
      expect(recordStoreTimestamp(record.subarray(0, storeAt + 8))).toBe(1_700_000_000_123);
      expect(recordPhysicalOffset(record.subarray(0, 35))).toBeUndefined();
    }
  });

  it('writes hosts as raw bytes and reads them back in canonical text', () => {
    const bytes = encodeRecord(sample({ bornHost: { host: '2001:DB8:0:0:0:0:0:1', port: 7 }, storeHost: { host: '::ffff:10.1.2.3', port: 8 } }));
    const record = decodeOne(bytes);
    expect(record.bornHost).toEqual({ host: '2001:db8::1', port: 7 });
    expect(record.storeHost).toEqual({ host: '::ffff:10.1.2.3', port: 8 });
    expect(bytes.subarray(48, 64).toString('hex')).toBe('20010db8000000000000000000000001');
  });

  it('refuses input it cannot store, naming the field', () => {
    expect(() => encodeRecord(sample({ bornHost: { host: 'localhost', port: 1 } }))).toThrow(/bornHost\.host/);
    expect(() => encodeRecord(sample({ storeHost: { host: '1.2.3.4', port: 70000 } }))).toThrow(/storeHost\.port/);
    expect(() => encodeRecord(sample({ queueId: 1.5 }))).toThrow(/queueId/);
    expect(() => encodeRecord(sample({ queueOffset: 2 ** 53 }))).toThrow(/queueOffset/);
    expect(() => encodeRecord(sample({ topic: '' }))).toThrow(/topic/);
    expect(() => encodeRecord(sample({ topic: 'x'.repeat(40_000) }))).toThrow(/topic/);
    expect(() => encodeRecord(sample({ properties: { big: 'x'.repeat(32_767) } }))).toThrow(/PROPERTIES_SIZE_EXCEEDED/);
    expect(() => encodeRecord(sample({ properties: { big: 'x'.repeat(32_767) } }))).toThrow(InvalidArgumentError);
  });

  it('accepts properties of exactly 32767 bytes', () => {
    const props = { k: 'x'.repeat(32_767 - 3) }; // "k" + \u0001 + value + \u0002
    expect(decodeOne(encodeRecord(sample({ properties: props }))).properties).toEqual(props);
  });
});

describe('prepareRecord / writeRecord', () => {
  it('write the same bytes as encodeRecord, in place inside a larger buffer', () => {
    fc.assert(
      fc.property(recordInput, fc.nat(64), (input, lead) => {
        const p = prepareRecord(input);
        const expectedBytes = encodeRecord(input);
        expect(p.size).toBe(expectedBytes.length);
        const target = Buffer.alloc(lead + p.size + 5, 0xee);
        writeRecord(target, lead, p, input.queueOffset, input.physicalOffset, input.storeTimestamp);
        expect(target.subarray(lead, lead + p.size).equals(expectedBytes)).toBe(true);
        expect(target.subarray(0, lead).every((b) => b === 0xee)).toBe(true);
        expect(target.subarray(lead + p.size).every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('use given properties text as the encoded properties', () => {
    const input = sample({ properties: { ignored: 'yes' } });
    const p = prepareRecord(input, 'TAGS\u0001a\u0002KEYS\u0001k1\u0002');
    const buf = Buffer.alloc(p.size);
    writeRecord(buf, 0, p, 1, 2, 3);
    const record = decodeOne(buf, 0, true);
    expect(record.properties).toEqual({ TAGS: 'a', KEYS: 'k1' });
    expect([record.queueOffset, record.physicalOffset, record.storeTimestamp]).toEqual([1, 2, 3]);
  });

  it('refuse what encodeRecord refuses, naming the field', () => {
    expect(() => prepareRecord(sample({ bornHost: { host: 'localhost', port: 1 } }))).toThrow(/bornHost\.host/);
    expect(() => prepareRecord(sample({ queueId: 1.5 }))).toThrow(/queueId/);
    expect(() => prepareRecord(sample({ bornTimestamp: 2 ** 53 }))).toThrow(/bornTimestamp/);
    expect(() => prepareRecord(sample(), 'x'.repeat(32_768))).toThrow(/PROPERTIES_SIZE_EXCEEDED/);
  });
});

describe('blank marker', () => {
  it('is TOTALSIZE + BLANK magic and decodes to its size', () => {
    const blank = encodeBlankRecord(4096);
    expect(blank.length).toBe(BLANK_RECORD_SIZE);
    expect(blank.toString('hex')).toBe('00001000cbd43194');
    expect(decodeRecord(blank)).toEqual({ kind: 'blank', size: 4096 });
  });

  it('refuses a size below 8', () => {
    expect(() => encodeBlankRecord(7)).toThrow(InvalidArgumentError);
    const bad = Buffer.from('00000004cbd43194', 'hex');
    expect(() => decodeRecord(bad)).toThrow(ProtocolError);
  });
});

describe('decodeRecords', () => {
  it('returns every record of a run, in order, skipping a blank filler', () => {
    const inputs = Array.from({ length: 50 }, (_, i) =>
      sample({ queueOffset: i, topic: i % 7 === 0 ? 'T'.repeat(200) : 'TopicTest', body: Buffer.alloc(i * 3, i), properties: { KEYS: `k${i}` } }),
    );
    const run = Buffer.concat([...inputs.map(encodeRecord), encodeBlankRecord(64), Buffer.alloc(56)]);
    const records = decodeRecords(run, { checkCrc: true });
    expect(records.map((r) => r.queueOffset)).toEqual(inputs.map((_, i) => i));
    expect(records.map((r) => r.properties['KEYS'])).toEqual(inputs.map((_, i) => `k${i}`));
    expect(decodeRecords(Buffer.alloc(0))).toEqual([]);
  });

  it('rejects a run in which one record has a wrong size or magic, naming its offset', () => {
    const one = encodeRecord(sample());
    const run = Buffer.concat([one, one, one]);
    const badMagic = Buffer.from(run);
    badMagic.writeInt32BE(0x12345678, one.length + 4);
    expect(() => decodeRecords(badMagic)).toThrow(new RegExp(`offset ${one.length} has unknown MAGICCODE 0x12345678`));
    const badSize = Buffer.from(run);
    badSize.writeInt32BE(one.length + 5, one.length);
    expect(() => decodeRecords(badSize)).toThrow(new RegExp(`offset ${one.length}`));
    const overlongBlank = Buffer.concat([one, encodeBlankRecord(100)]);
    expect(() => decodeRecords(overlongBlank)).toThrow(/blank marker/);
  });
});

describe('decodeRecord rejects', () => {
  const good = encodeRecord(sample({ body: Buffer.from('0123456789') }));

  function mutated(change: (b: Buffer) => void): Buffer {
    const copy = Buffer.from(good);
    change(copy);
    return copy;
  }

  it('a TOTALSIZE larger than the buffer (truncated)', () => {
    expect(() => decodeRecord(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => decodeRecord(good.subarray(0, 5))).toThrow(/truncated/);
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(good.length + 1, 0)))).toThrow(/truncated/);
  });

  it('a TOTALSIZE below the minimum', () => {
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(90, 0)))).toThrow(/minimum/);
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(-1, 0)))).toThrow(/minimum/);
  });

  it('a TOTALSIZE smaller than the inner lengths add up to', () => {
    const padded = Buffer.concat([good, Buffer.alloc(4)]);
    padded.writeInt32BE(good.length + 4, 0);
    expect(() => decodeRecord(padded)).toThrow(/add up to \d+ bytes but TOTALSIZE is/);
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(good.length - 1, 0)))).toThrow(ProtocolError);
  });

  it('an unknown magic', () => {
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(0, 4)))).toThrow(/unknown MAGICCODE 0x00000000/);
  });

  it('inner lengths that do not match TOTALSIZE', () => {
    // BODYLEN one short: the body's last byte, '9' = 57, is read as the topic length and overruns.
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(9, 84)))).toThrow(/TOPICLEN 57 does not fit/);
    // Topic length one short: the lengths no longer land on TOTALSIZE.
    expect(() => decodeRecord(mutated((b) => b.writeUInt8((b[98] ?? 0) - 1, 98)))).toThrow(/add up to/);
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(1000, 84)))).toThrow(/BODYLEN 1000/);
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(-5, 84)))).toThrow(/BODYLEN -5/);
    expect(() => decodeRecord(mutated((b) => b.writeUInt8(200, 98)))).toThrow(/TOPICLEN 200/);
    // PROPLEN sits before the 10 bytes of "TAGS\u0001TagA\u0002".
    expect(() => decodeRecord(mutated((b) => b.writeInt16BE(-1, good.length - 2 - 10)))).toThrow(/properties -1/);
  });

  it('a body CRC mismatch when checkCrc is on, and not otherwise', () => {
    const flipped = mutated((b) => {
      b[88] = (b[88] ?? 0) ^ 0xff;
    });
    expect(() => decodeRecord(flipped, 0, { checkCrc: true })).toThrow(/BODYCRC/);
    expect(decodeRecord(flipped).kind).toBe('record');
  });

  it('an i64 beyond 2^53', () => {
    expect(() => decodeRecord(mutated((b) => b.writeInt32BE(0x7fffffff, 20)))).toThrow(/QUEUEOFFSET is beyond 2\^53/);
  });

  it('an offset outside the buffer, and zero-filled space', () => {
    expect(() => decodeRecord(good, good.length + 1)).toThrow(ProtocolError);
    expect(() => decodeRecord(Buffer.alloc(200))).toThrow(ProtocolError);
  });
});

describe('fuzz: decoders throw nothing but ProtocolError', () => {
  const valid = Buffer.concat([encodeRecord(sample()), encodeRecord(sample({ topic: 'y'.repeat(150), bornHost: { host: '::1', port: 1 } }))]);
  const batch = encodeBatch([
    { body: Buffer.from('a'), flag: 0, properties: { k: 'v' } },
    { body: Buffer.from('bb'), flag: 1, properties: {} },
  ]);

  /** Random bytes, or a valid input with random bytes overwritten, cut short or extended. */
  function arbitraryInput(base: Buffer): fc.Arbitrary<Buffer> {
    const mutation = fc.record({
      writes: fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.nat(base.length),
      tail: fc.uint8Array({ maxLength: 16 }),
    });
    return fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      mutation.map(({ writes, cut, tail }) => {
        const copy = Buffer.from(base);
        for (const [pos, value] of writes) copy[pos] = value;
        return Buffer.concat([copy.subarray(0, cut), tail]);
      }),
    );
  }

  function onlyProtocolErrors(run: () => unknown): void {
    try {
      run();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
  }

  it('for records, runs of records and properties', () => {
    fc.assert(
      fc.property(arbitraryInput(valid), fc.boolean(), (bytes, checkCrc) => {
        onlyProtocolErrors(() => decodeRecord(bytes, 0, { checkCrc }));
        onlyProtocolErrors(() => decodeRecords(bytes, { checkCrc }));
        onlyProtocolErrors(() => decodeProperties(bytes));
      }),
      { numRuns: 4000 },
    );
  });

  it('for batches', () => {
    fc.assert(
      fc.property(arbitraryInput(batch), (bytes) => {
        onlyProtocolErrors(() => decodeBatch(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('for offset message ids', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[0-9A-Fa-f]{32}$/), fc.stringMatching(/^[0-9a-fA-F]{56}$/)), (id) => {
        onlyProtocolErrors(() => decodeOffsetMessageId(id));
      }),
      { numRuns: 3000 },
    );
  });
});
