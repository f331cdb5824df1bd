/**
 * Stores whose commit log starts, and rolls, past 2^31 and 2^32 bytes: offsets are 64-bit on disk
 * and in every answer, and a 32-bit slip anywhere (a consume-queue unit, an index entry, a message
 * id, recovery's scan) would send a reader to the wrong record. The first segment is a sparse file,
 * so a store "past 4 GiB" costs a few KiB of disk.
 */
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageProperty, decodeOffsetMessageId, decodeRecords } from '@karman/protocol';
import { MessageStore } from '../src/message-store.js';
import { GetMessageStatus } from '../src/message-status.js';
import { segmentName } from '../src/segment-queue.js';

const SEGMENT = 64 * 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store folder whose commit log begins with an empty (sparse) segment at `base`. */
function storeStartingAt(base: number): string {
  const root = mkdtempSync(join(tmpdir(), 'karman-big-'));
  dirs.push(root);
  mkdirSync(join(root, 'commitlog'), { recursive: true });
  const fd = openSync(join(root, 'commitlog', segmentName(base)), 'w');
  ftruncateSync(fd, SEGMENT);
  closeSync(fd);
  return root;
}

const open = (root: string): Promise<MessageStore> =>
  MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT, mappedFileSizeConsumeQueue: 20 * 64, logger: () => undefined, cleanResourceInterval: 0 });

describe.each([
  { name: '2^31', boundary: 2 ** 31 },
  { name: '2^32', boundary: 2 ** 32 },
])('a commit log rolling past $name bytes', ({ boundary }) => {
  it('puts, reads by queue, by offset id and by key, and recovers after a restart, with the same offsets', async () => {
    const root = storeStartingAt(boundary - SEGMENT);
    const written: Array<{ offset: number; msgId: string; body: string }> = [];
    {
      await using store = await open(root);
      expect(store.maxPhyOffset).toBe(boundary - SEGMENT);
      for (let i = 0; i < 300; i++) {
        const body = `big-${i}-`.padEnd(400, 'x');
        const r = await store.put({ topic: 'Big', queueId: i % 2, body: Buffer.from(body), properties: { [MessageProperty.KEYS]: `key-${i}` } });
        expect(r.status).toBe('PUT_OK');
        written.push({ offset: r.wroteOffset, msgId: r.msgIds[0]!, body });
      }
      // The log crossed the boundary: the last records live past it.
      expect(written.at(-1)!.offset).toBeGreaterThan(boundary);
      expect(written[0]!.offset).toBeLessThan(boundary);
    }
    // A clean restart, then a crash-style one (the abort file left in place) must find the same records.
    for (const pass of ['after a clean stop', 'after a crash']) {
      await using store = await open(root);
      expect(store.recovery.abnormal, pass).toBe(pass === 'after a crash');
      const got = [0, 1].map(async (q) => {
        const out = [];
        for (let offset = 0; offset < store.getMaxOffsetInQueue('Big', q); ) {
          const r = await store.getMessage({ topic: 'Big', queueId: q, offset, maxCount: 1_000 });
          expect(r.status, pass).toBe(GetMessageStatus.FOUND);
          out.push(...decodeRecords(Buffer.concat(r.buffers), { checkCrc: true }));
          offset = r.nextBeginOffset;
        }
        return out;
      });
      const records = (await Promise.all(got)).flat().sort((a, b) => a.physicalOffset - b.physicalOffset);
      expect(records.map((r) => [r.physicalOffset, r.body.toString()]), pass).toEqual(written.map((w) => [w.offset, w.body]));
      for (const w of [written[0]!, written.at(-1)!]) {
        expect(decodeOffsetMessageId(w.msgId).physicalOffset, pass).toBe(w.offset);
        expect((await store.readRecord(w.offset))?.record.body.toString(), pass).toBe(w.body);
      }
      const byKey = await store.queryMessage('Big', 'key-299', 32, 0, Number.MAX_SAFE_INTEGER);
      expect(byKey.messages.map((m) => [m.record.physicalOffset, m.record.body.toString()]), pass).toEqual([[written.at(-1)!.offset, written.at(-1)!.body]]);
      if (pass === 'after a clean stop') {
        await store.close();
        // Leave an abort file, as a killed broker does: the next open scans the log.
        closeSync(openSync(join(root, 'abort'), 'w'));
      }
    }
  });
});
