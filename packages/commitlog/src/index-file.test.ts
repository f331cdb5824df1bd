import { mkdtemp, readFile, rm, truncate, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from '@karman/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IndexFile,
  INDEX_HEADER_SIZE,
  decodeIndexHeader,
  encodeIndexHeader,
  indexFileName,
  indexFileSize,
  indexKeyHash,
  topicKeyHash,
  parseIndexFileName,
} from './index-file.js';

const T0 = 1_700_000_000_000; // 0x0000018BCFE56800
const tiny = { hashSlotNum: 4, indexNum: 4 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'karman-index-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Hex of `bytes`, for readable golden comparisons. */
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('indexKeyHash', () => {
  it('is abs(Java String.hashCode) with Integer.MIN_VALUE mapped to 0', () => {
    expect(indexKeyHash('hello')).toBe(99162322); // "hello".hashCode() in Java
    expect(indexKeyHash('')).toBe(0);
    expect(indexKeyHash('Karman index')).toBe(379550640); // Java gives -379550640
    expect(indexKeyHash('polygenelubricants')).toBe(0); // Java gives Integer.MIN_VALUE
  });

  it('topicKeyHash(topic, key) equals indexKeyHash(`${topic}#${key}`) without building the string', () => {
    for (const [topic, key] of [['T', 'k'], ['orders', 'Aa'], ['orders', 'BB'], ['TopicTest', 'ключ-42'], ['x', ''], ['polygenelubricant', 's']] as const) {
      expect(topicKeyHash(topic, key), `${topic}#${key}`).toBe(indexKeyHash(`${topic}#${key}`));
    }
  });
});

describe('index file names', () => {
  it('are yyyyMMddHHmmssSSS in UTC and parse back', () => {
    const t = Date.UTC(2026, 10, 26, 16, 9, 52, 7);
    expect(indexFileName(t)).toBe('20261126160952007');
    expect(parseIndexFileName('20261126160952007')).toBe(t);
    expect(parseIndexFileName('20261326160952007')).toBeUndefined(); // month 13
    expect(parseIndexFileName('00000000000000000000')).toBeUndefined(); // a commit-log name
    expect(parseIndexFileName('20261126160952007.tmp')).toBeUndefined();
  });
});

describe('IndexFile layout', () => {
  it('writes the golden bytes of a 4-slot, 4-entry file field by field', async () => {
    const path = join(dir, indexFileName(T0));
    const file = IndexFile.create(path, tiny);
    // "a", "b", "e" hash to 97, 98, 101: slots 1, 2, 1, so "e" chains to "a".
    file.putKey('a', 100, T0);
    file.putKey('b', 200, T0 + 2500); // 2.5 s after begin → timeDiff 2 (whole seconds, rounded down)
    file.putKey('e', 300, T0 + 5000);
    expect(file.isFull).toBe(true); // indexCount 4 = indexNum: entry 0 is never used
    await file.flush();
    await file.close();

    const bytes = await readFile(path);
    expect(bytes.length).toBe(indexFileSize(tiny));
    expect(bytes.length).toBe(40 + 4 * 4 + 4 * 20);
    const golden = [
      // header
      '0000018bcfe56800', // beginTimestamp T0
      '0000018bcfe57b88', // endTimestamp T0 + 5000
      '0000000000000064', // beginPhyOffset 100
      '000000000000012c', // endPhyOffset 300
      '00000002', // hashSlotCount: slots 1 and 2 are in use
      '00000004', // indexCount: next entry number
      // slots
      '00000000', // slot 0: empty
      '00000003', // slot 1: newest is entry 3 ("e")
      '00000002', // slot 2: entry 2 ("b")
      '00000000', // slot 3: empty
      // entry 0: reserved, zero
      '00000000' + '0000000000000000' + '00000000' + '00000000',
      // entry 1: keyHash 97, phyOffset 100, timeDiff 0, prevIndex 0
      '00000061' + '0000000000000064' + '00000000' + '00000000',
      // entry 2: keyHash 98, phyOffset 200, timeDiff 2, prevIndex 0
      '00000062' + '00000000000000c8' + '00000002' + '00000000',
      // entry 3: keyHash 101, phyOffset 300, timeDiff 5, prevIndex 1 (older entry of slot 1)
      '00000065' + '000000000000012c' + '00000005' + '00000001',
    ].join('');
    expect(hex(bytes)).toBe(golden);
  });

  it('encodes and decodes the header symmetrically', () => {
    const header = { beginTimestamp: T0, endTimestamp: T0 + 1, beginPhyOffset: 2 ** 40, endPhyOffset: 2 ** 40 + 99, hashSlotCount: 7, indexCount: 9 };
    const bytes = encodeIndexHeader(header);
    expect(bytes.length).toBe(INDEX_HEADER_SIZE);
    expect(decodeIndexHeader(bytes)).toEqual(header);
  });
});

describe('IndexFile queries', () => {
  it('follows a chain newest first, keeps only matching hashes, and reads the same after reopening', async () => {
    const path = join(dir, indexFileName(T0));
    const geometry = { hashSlotNum: 1, indexNum: 10 }; // one slot: every key shares one chain
    const file = IndexFile.create(path, geometry);
    file.putKey('a', 10, T0);
    file.putKey('b', 20, T0 + 1000);
    file.putKey('a', 30, T0 + 2000);
    file.putKey('a', 40, T0 + 3000);
    const query = async (f: IndexFile, key: string, maxNum = 64, begin = 0, end = Number.MAX_SAFE_INTEGER): Promise<number[]> => {
      const out: number[] = [];
      await f.selectPhyOffsets(out, key, maxNum, begin, end);
      return out;
    };
    // Before any write: everything answers from memory.
    expect(await query(file, 'a')).toEqual([40, 30, 10]);
    expect(await query(file, 'b')).toEqual([20]);
    expect(await query(file, 'a', 2)).toEqual([40, 30]);
    expect(await query(file, 'a', 64, T0 + 1000, T0 + 2000)).toEqual([30]);
    await file.flush();
    await file.close();

    const reopened = await IndexFile.open(path, geometry);
    try {
      expect(reopened.snapshot).toMatchObject({ indexCount: 5, hashSlotCount: 1, beginPhyOffset: 10, endPhyOffset: 40 });
      expect(await query(reopened, 'a')).toEqual([40, 30, 10]);
      expect(await query(reopened, 'zzz')).toEqual([]);
      // The reopened file is writable again and links new entries onto the old chain.
      reopened.putKey('a', 50, T0 + 4000);
      expect(await query(reopened, 'a')).toEqual([50, 40, 30, 10]);
    } finally {
      await reopened.close();
    }
  });
});

describe('IndexFile.open on bad files', () => {
  it('refuses a truncated file with a ProtocolError naming the file and the sizes', async () => {
    const path = join(dir, indexFileName(T0));
    const file = IndexFile.create(path, tiny);
    file.putKey('a', 100, T0);
    await file.flush();
    await file.close();
    await truncate(path, 100);
    const err = await IndexFile.open(path, tiny).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain(`is 100 bytes but ${indexFileSize(tiny)} were expected`);
  });

  it('refuses a file of the right size with an impossible header', async () => {
    const path = join(dir, indexFileName(T0));
    const junk = Buffer.alloc(indexFileSize(tiny), 0xff); // indexCount -1
    await writeFile(path, junk);
    await expect(IndexFile.open(path, tiny)).rejects.toThrow(/impossible header \(indexCount -1 outside 1\.\.4\)/);
  });

  it('repairs a slot left pointing past indexCount by a crash between the slot and header writes', async () => {
    const path = join(dir, indexFileName(T0));
    const geometry = { hashSlotNum: 2, indexNum: 8 };
    const file = IndexFile.create(path, geometry);
    file.putKey('a', 10, T0); // slot 1, entry 1
    file.putKey('a', 20, T0 + 1000); // slot 1, entry 2 → prev 1
    await file.flush();
    await file.close();
    // Simulate the crash: the header says indexCount 2 (only entry 1), the slot still names entry 2.
    const fh = await open(path, 'r+');
    const header = Buffer.alloc(INDEX_HEADER_SIZE);
    await fh.read(header, 0, INDEX_HEADER_SIZE, 0);
    header.writeInt32BE(2, 36);
    header.writeBigInt64BE(10n, 24);
    await fh.write(header, 0, INDEX_HEADER_SIZE, 0);
    await fh.close();

    const reopened = await IndexFile.open(path, geometry);
    try {
      const out: number[] = [];
      await reopened.selectPhyOffsets(out, 'a', 64, 0, Number.MAX_SAFE_INTEGER);
      expect(out).toEqual([10]);
      reopened.putKey('a', 30, T0 + 2000); // overwrites entry 2 and must chain to entry 1
      out.length = 0;
      await reopened.selectPhyOffsets(out, 'a', 64, 0, Number.MAX_SAFE_INTEGER);
      expect(out).toEqual([30, 10]);
    } finally {
      await reopened.close();
    }
  });

  it('ends a query at a corrupt prevIndex that points forwards instead of looping', async () => {
    const path = join(dir, indexFileName(T0));
    const geometry = { hashSlotNum: 1, indexNum: 8 };
    const file = IndexFile.create(path, geometry);
    file.putKey('a', 10, T0);
    file.putKey('a', 20, T0);
    file.putKey('a', 30, T0);
    await file.flush();
    await file.close();
    // Entry 2's prevIndex (offset 40 + 4 + 2*20 + 16) → 3: a cycle 3 → 2 → 3 → ...
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(4);
    b.writeInt32BE(3);
    await fh.write(b, 0, 4, 40 + 4 + 2 * 20 + 16);
    await fh.close();
    const reopened = await IndexFile.open(path, geometry);
    try {
      const out: number[] = [];
      await reopened.selectPhyOffsets(out, 'a', 64, 0, Number.MAX_SAFE_INTEGER);
      expect(out).toEqual([30, 20]);
    } finally {
      await reopened.close();
    }
  });
});
