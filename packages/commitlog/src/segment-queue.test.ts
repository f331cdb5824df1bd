import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentQueue, segmentName } from './segment-queue.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'karman-segq-'));
  dirs.push(d);
  return d;
}
const clock = (): number => 1000;

describe('segment names', () => {
  it('are the base offset zero-padded to 20 digits', () => {
    expect(segmentName(0)).toBe('00000000000000000000');
    expect(segmentName(1073741824)).toBe('00000000001073741824');
  });
});

describe('SegmentQueue', () => {
  it('creates full-size files that follow each other and finds the file of an offset', () => {
    const q = new SegmentQueue(tempDir(), 4096, clock, 'test');
    q.load(() => undefined);
    q.obtain(0);
    q.preallocateNext();
    expect(readdirSync(q.dir)).toEqual(['00000000000000000000', '00000000000000004096']);
    expect(statSync(join(q.dir, '00000000000000004096')).size).toBe(4096);
    expect(q.find(4095)?.baseOffset).toBe(0);
    expect(q.find(4096)?.baseOffset).toBe(4096);
    expect(q.find(8192)).toBeUndefined();
    q.close();
  });

  it('reads back what it wrote and zeroes from a position on truncation', () => {
    const q = new SegmentQueue(tempDir(), 4096, clock, 'test');
    q.load(() => undefined);
    const seg = q.obtain(0);
    seg.writeSync(Buffer.from('abcdefgh'), 100);
    q.preallocateNext();
    q.truncateFrom(104);
    expect(seg.readSync(100, 8).toString('latin1')).toBe('abcd\0\0\0\0');
    expect(q.segments).toHaveLength(1);
    q.close();
  });

  it('refuses stray files, gaps and files of another size with errors naming the file and the fix', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'README'), 'x');
    expect(() => new SegmentQueue(dir, 4096, clock, 'commit log').load(() => undefined)).toThrow(/README.*not a 20-digit segment name.*empty folder/);
    rmSync(join(dir, 'README'));
    writeFileSync(join(dir, segmentName(0)), Buffer.alloc(4096));
    writeFileSync(join(dir, segmentName(8192)), Buffer.alloc(4096));
    expect(() => new SegmentQueue(dir, 4096, clock, 'commit log').load(() => undefined)).toThrow(/does not follow.*a file is missing/);
    rmSync(join(dir, segmentName(8192)));
    expect(() => new SegmentQueue(dir, 1024, clock, 'commit log').load(() => undefined)).toThrow(/another mappedFileSize/);
    writeFileSync(join(dir, segmentName(4096)), Buffer.alloc(4096));
    writeFileSync(join(dir, segmentName(0)), Buffer.alloc(100));
    expect(() => new SegmentQueue(dir, 4096, clock, 'commit log').load(() => undefined)).toThrow(/truncated; restore it/);
  });

  it('regrows a short last file and reports it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, segmentName(0)), Buffer.alloc(100, 1));
    const issues: string[] = [];
    const q = new SegmentQueue(dir, 4096, clock, 'test');
    q.load((i) => issues.push(i.problem));
    expect(issues).toEqual([expect.stringMatching(/truncated to 100 of 4096/)]);
    expect(statSync(join(dir, segmentName(0))).size).toBe(4096);
    q.close();
  });

  it('deletes from the front', () => {
    const q = new SegmentQueue(tempDir(), 4096, clock, 'test');
    q.load(() => undefined);
    q.obtain(0);
    q.obtain(4096);
    q.obtain(8192);
    q.deleteFirst(2);
    expect(q.minOffset).toBe(8192);
    expect(readdirSync(q.dir)).toEqual([segmentName(8192)]);
    q.close();
  });
});
