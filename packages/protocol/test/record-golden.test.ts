/**
 * Golden vectors for the commit-log record. The expected bytes are written field by
 * field from the layout, not produced by the encoder: each line is one field, big-endian.
 * The body CRC was computed independently of Karman (Python `zlib.crc32(body) & 0x7fffffff`); its
 * unmasked value 0xb70b4c26 has the top bit set, so the vector also checks the 31-bit mask.
 */
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeBlankRecord, encodeRecord } from '../src/message-record.js';
import type { RecordInput } from '../src/message-record.js';

/** 1 KiB body: byte i is i mod 256. */
const body = Buffer.from(Array.from({ length: 1024 }, (_, i) => i & 0xff));
const bodyHex = Array.from({ length: 1024 }, (_, i) => (i & 0xff).toString(16).padStart(2, '0')).join('');

const input: RecordInput = {
  queueId: 3,
  flag: 7,
  queueOffset: 42,
  physicalOffset: 1_073_741_824, // first record of the second 1 GiB segment
  sysFlag: 0,
  bornTimestamp: 1_700_000_000_000,
  bornHost: { host: '192.168.0.10', port: 50000 },
  storeTimestamp: 1_700_000_000_123,
  storeHost: { host: '10.0.0.1', port: 10911 },
  reconsumeTimes: 0,
  preparedTransactionOffset: 0,
  body,
  topic: 'TopicTest',
  properties: { TAGS: 'TagA', KEYS: 'OrderID001', color: 'red', size: 'L' },
};

// TOTALSIZE = 91 fixed + 1024 body + 9 topic + 43 properties = 1167 = 0x48f.
const expectedHex = [
  '0000048f', // TOTALSIZE 1167
  'daa320a7', // MAGICCODE V1
  '370b4c26', // BODYCRC crc32(body) & 0x7fffffff
  '00000003', // QUEUEID 3
  '00000007', // FLAG 7
  '000000000000002a', // QUEUEOFFSET 42
  '0000000040000000', // PHYSICALOFFSET 1073741824
  '00000000', // SYSFLAG 0 (IPv4 hosts, not compressed, not transactional)
  '0000018bcfe56800', // BORNTIMESTAMP 1700000000000
  'c0a8000a', // BORNHOST ip 192.168.0.10
  '0000c350', // BORNHOST port 50000
  '0000018bcfe5687b', // STORETIMESTAMP 1700000000123
  '0a000001', // STOREHOST ip 10.0.0.1
  '00002a9f', // STOREHOST port 10911
  '00000000', // RECONSUMETIMES 0
  '0000000000000000', // PREPARED TRANSACTION OFFSET 0
  '00000400', // BODYLEN 1024
  bodyHex, // BODY
  '09', // TOPICLEN 9 (1 byte, V1)
  '546f70696354657374', // TOPIC "TopicTest"
  '002b', // PROPLEN 43
  '54414753015461674102', // "TAGS" \u0001 "TagA" \u0002
  '4b455953014f72646572494430303102', // "KEYS" \u0001 "OrderID001" \u0002
  '636f6c6f720172656402', // "color" \u0001 "red" \u0002
  '73697a65014c02', // "size" \u0001 "L" \u0002
].join('');

describe('golden record', () => {
  it('encodes to the bytes worked out from the layout', () => {
    expect(encodeRecord(input).toString('hex')).toBe(expectedHex);
  });

  it('decodes the expected bytes back to the input', () => {
    const decoded = decodeRecord(Buffer.from(expectedHex, 'hex'), 0, { checkCrc: true });
    expect(decoded.kind).toBe('record');
    if (decoded.kind !== 'record') return;
    expect(decoded.size).toBe(1167);
    expect({ ...decoded.record, properties: { ...decoded.record.properties } }).toEqual({
      ...input,
      totalSize: 1167,
      magic: 0xdaa320a7 | 0,
      bodyCrc: 0x370b4c26,
    });
  });
});

describe('golden blank marker', () => {
  const blankHex = [
    '000004d2', // TOTALSIZE 1234: the bytes left in the segment
    'cbd43194', // MAGICCODE BLANK
  ].join('');

  it('encodes to TOTALSIZE + BLANK magic', () => {
    expect(encodeBlankRecord(1234).toString('hex')).toBe(blankHex);
  });

  it('decodes to a blank of that size', () => {
    expect(decodeRecord(Buffer.from(blankHex, 'hex'))).toEqual({ kind: 'blank', size: 1234 });
  });
});
