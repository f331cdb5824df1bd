import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageProperty, decodeRecords } from '@karman/protocol';
import { MessageStore } from './message-store.js';
import { GetMessageStatus, PutMessageStatus } from './message-status.js';
import type { StoreOptions } from './store-config.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'karman-ha-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(root: string, extra: Partial<StoreOptions> = {}): Promise<MessageStore> {
  return MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: 4096, mappedFileSizeConsumeQueue: 200, logger: () => undefined, cleanResourceInterval: 0, ...extra });
}

/** Ship everything from `from` to `to` the way a slave's HA client does, in chunks of `batch` bytes. */
async function ship(from: MessageStore, to: MessageStore, batch: number, start = to.maxPhyOffset): Promise<number> {
  let offset = start;
  let chunks = 0;
  for (;;) {
    const chunk = await from.readReplicationChunk(offset, batch);
    if (!chunk) return chunks;
    expect(await to.appendReplicated(chunk.offset, chunk.data)).toBe(chunk.end);
    offset = chunk.end;
    chunks++;
  }
}

function commitLogBytes(root: string, upTo: number): Buffer {
  const dir = join(root, 'commitlog');
  const all = Buffer.concat(readdirSync(dir).sort().map((f) => readFileSync(join(dir, f))));
  return all.subarray(0, upTo);
}

describe('commit-log replication', () => {
  it('copies records byte for byte across segments and builds the slave\'s own queues and index', async () => {
    await using master = await open(tempDir());
    const slaveDir = tempDir();
    await using slave = await open(slaveDir);
    for (let i = 0; i < 120; i++) {
      const r = await master.put({ topic: 'T', queueId: i % 3, body: Buffer.from(`m${i}`.padEnd(100 + (i % 7) * 30, '.')), properties: { [MessageProperty.KEYS]: `k${i}` } });
      expect(r.status).toBe(PutMessageStatus.PUT_OK);
    }
    expect(master.maxPhyOffset).toBeGreaterThan(3 * 4096); // several segments, so blank fillers are crossed
    expect(await ship(master, slave, 700)).toBeGreaterThan(10);
    expect(slave.maxPhyOffset).toBe(master.maxPhyOffset);
    await master.flush();
    await slave.flush();
    expect(commitLogBytes(slaveDir, slave.maxPhyOffset).equals(commitLogBytes(master.options.storePathRootDir, master.maxPhyOffset))).toBe(true);
    for (let q = 0; q < 3; q++) {
      expect(slave.getMaxOffsetInQueue('T', q)).toBe(40);
      const m = await master.getMessage({ topic: 'T', queueId: q, offset: 0, maxCount: 40 });
      const s = await slave.getMessage({ topic: 'T', queueId: q, offset: 0, maxCount: 40 });
      expect(s.status).toBe(GetMessageStatus.FOUND);
      expect(Buffer.concat(s.buffers).equals(Buffer.concat(m.buffers))).toBe(true);
    }
    const found = await slave.queryMessage('T', 'k77', 4, 0, Date.now() + 1000);
    expect(found.messages.map((x) => x.record.properties[MessageProperty.KEYS])).toEqual(['k77']);
  });

  it('refuses gaps, overlaps and bytes that are no record, and resumes from its own end after a reopen', async () => {
    await using master = await open(tempDir());
    const slaveDir = tempDir();
    let slave = await open(slaveDir);
    for (let i = 0; i < 10; i++) await master.put({ topic: 'T', queueId: 0, body: Buffer.from(`first-${i}`) });
    await ship(master, slave, 300);
    const end = slave.maxPhyOffset;
    const old = (await master.readReplicationChunk(0, 300))!;
    await expect(slave.appendReplicated(0, old.data)).rejects.toThrow(/overlaps bytes already held/);
    for (let i = 0; i < 10; i++) await master.put({ topic: 'T', queueId: 0, body: Buffer.from(`second-${i}`) });
    const next = (await master.readReplicationChunk(end, 300))!;
    const after = (await master.readReplicationChunk(next.end, 300))!;
    await expect(slave.appendReplicated(after.offset, after.data)).rejects.toThrow(/would leave a gap/);
    const corrupt = Buffer.from(next.data);
    // The first record's MAGICCODE: no record frame. (A body failing its CRC inside a sound frame is
    // copied and quarantined instead: see below.)
    corrupt.writeUInt8(corrupt.readUInt8(5) ^ 0xff, 5);
    await expect(slave.appendReplicated(next.offset, corrupt.subarray(0, corrupt.length - 1))).rejects.toThrow(/REPLICA|not a valid record/);
    await expect(slave.appendReplicated(next.offset, corrupt)).rejects.toThrow(/not a valid record/);
    expect(slave.maxPhyOffset).toBe(end);
    await slave.close();
    slave = await open(slaveDir);
    expect(slave.maxPhyOffset).toBe(end);
    await ship(master, slave, 300);
    expect(slave.maxPhyOffset).toBe(master.maxPhyOffset);
    expect(slave.getMaxOffsetInQueue('T', 0)).toBe(20);
    // A consume-queue file holds 10 units here, so the second file holds the second round.
    const second = await slave.getMessage({ topic: 'T', queueId: 0, offset: 10, maxCount: 100 });
    const fromMaster = await master.getMessage({ topic: 'T', queueId: 0, offset: 10, maxCount: 100 });
    expect(second.buffers.length).toBe(10);
    expect(Buffer.concat(second.buffers).equals(Buffer.concat(fromMaster.buffers))).toBe(true);
    await slave.close();
  });

  it('never makes a folder from a replicated record\'s topic or queue id that no topic could have', async () => {
    // A rogue master sends records whose topic is a path, or whose queue id is out of range: the
    // record bytes are well formed (only the body is checksummed), so they are stored, but no
    // consume queue is made for them, inside or outside the store.
    const root = tempDir();
    await using master = await open(join(root, 'master'));
    await using slave = await open(join(root, 'slave'));
    const logged: string[] = [];
    const evil = await open(join(root, 'evil-slave'), { logger: (_level, message) => void logged.push(message) });
    try {
      await master.put({ topic: 'EvilAAAA', queueId: 0, body: Buffer.from('a path') });
      await master.put({ topic: 'Fine', queueId: 3, body: Buffer.from('a queue id') });
      await master.put({ topic: 'Fine', queueId: 0, body: Buffer.from('fine') });
      const chunk = (await master.readReplicationChunk(0, 1 << 20))!;
      const data = Buffer.from(chunk.data);
      // Same lengths, so every size field still holds: the topic becomes "../../xx", queue 3 becomes 2^31 - 1.
      const at = data.indexOf('EvilAAAA');
      data.write('../../xx', at);
      const second = data.readInt32BE(0);
      data.writeInt32BE(0x7fffffff, second + 12);
      expect(await evil.appendReplicated(chunk.offset, data)).toBe(chunk.end);
      await ship(master, slave, 1 << 20);
      await evil.flush();
      expect(existsSync(join(root, 'evil-slave', 'consumequeue', '..', '..', 'xx'))).toBe(false);
      expect(existsSync(join(root, 'xx'))).toBe(false);
      expect(readdirSync(join(root, 'evil-slave', 'consumequeue')).sort()).toEqual(['Fine']);
      expect(readdirSync(join(root, 'evil-slave', 'consumequeue', 'Fine'))).toEqual(['0']);
      expect(logged.filter((m) => /not dispatched/.test(m))).toEqual([
        expect.stringMatching(/topic "\.\.\/\.\.\/xx"/),
        expect.stringMatching(/queue id 2147483647/),
      ]);
      // The honest record after them is served as usual.
      const fine = await evil.getMessage({ topic: 'Fine', queueId: 0, offset: 0, maxCount: 1 });
      expect(fine.status).toBe(GetMessageStatus.FOUND);
    } finally {
      await evil.close();
    }
  });

  it('copies a record whose body fails its CRC (the master quarantined it) byte for byte, quarantines it too, and goes on', async () => {
    const root = tempDir();
    await using master = await open(join(root, 'master'));
    await using slave = await open(join(root, 'slave'));
    for (let i = 0; i < 3; i++) await master.put({ topic: 'T', queueId: 0, body: Buffer.from(`message ${i}`) });
    const chunk = (await master.readReplicationChunk(0, 1 << 20))!;
    const data = Buffer.from(chunk.data);
    // The middle record's body as a master's disk might have it after a flipped byte.
    const flip = data.indexOf('message 1') + 8;
    data.writeUInt8(data.readUInt8(flip) ^ 0xff, flip);
    expect(await slave.appendReplicated(chunk.offset, data)).toBe(chunk.end);
    const second = data.readInt32BE(0);
    expect(slave.quarantined().map((q) => [q.offset, q.detectedBy])).toEqual([[second, 'replication']]);
    await master.put({ topic: 'T', queueId: 0, body: Buffer.from('message 3') });
    await ship(master, slave, 1 << 20);
    const got = await slave.getMessage({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 });
    const bodies = [];
    for (let offset = 0; offset < slave.getMaxOffsetInQueue('T', 0); ) {
      const r = await slave.getMessage({ topic: 'T', queueId: 0, offset, maxCount: 10 });
      bodies.push(...decodeRecords(Buffer.concat(r.buffers), { checkCrc: true }).map((m) => m.body.toString()));
      offset = r.nextBeginOffset;
    }
    expect(got.status).toBe(GetMessageStatus.FOUND);
    expect(bodies).toEqual(['message 0', 'message 2', 'message 3']);
  });

  it('lets an empty slave start at the master\'s last segment, then reopen there', async () => {
    await using master = await open(tempDir());
    for (let i = 0; i < 100; i++) await master.put({ topic: 'T', queueId: 0, body: Buffer.alloc(200, i) });
    const lastSegment = master.maxPhyOffset - (master.maxPhyOffset % 4096);
    expect(lastSegment).toBeGreaterThan(0);
    const slaveDir = tempDir();
    let slave = await open(slaveDir);
    await ship(master, slave, 4096, lastSegment);
    expect(slave.minPhyOffset).toBe(lastSegment);
    expect(slave.maxPhyOffset).toBe(master.maxPhyOffset);
    const min = slave.getMinOffsetInQueue('T', 0);
    expect(min).toBeGreaterThan(0);
    expect(slave.getMaxOffsetInQueue('T', 0)).toBe(100);
    const read = await slave.getMessage({ topic: 'T', queueId: 0, offset: min, maxCount: 100 });
    expect(read.buffers.length).toBe(100 - min);
    await slave.close();
    slave = await open(slaveDir);
    expect([slave.minPhyOffset, slave.maxPhyOffset]).toEqual([lastSegment, master.maxPhyOffset]);
    await master.put({ topic: 'T', queueId: 0, body: Buffer.from('after reopen') });
    await ship(master, slave, 4096);
    expect(slave.getMaxOffsetInQueue('T', 0)).toBe(101);
    await slave.close();
  });

  it('answers SYNC_MASTER statuses through the replication gate, and skips it for messages that do not wait', async () => {
    await using store = await open(tempDir());
    const seen: number[] = [];
    store.setReplicationGate((end) => {
      seen.push(end);
      return PutMessageStatus.FLUSH_SLAVE_TIMEOUT;
    });
    const r = await store.put({ topic: 'T', queueId: 0, body: Buffer.from('x') });
    expect(r.status).toBe(PutMessageStatus.FLUSH_SLAVE_TIMEOUT);
    expect(seen).toEqual([r.wroteOffset + r.wroteBytes]);
    const noWait = await store.put({ topic: 'T', queueId: 0, body: Buffer.from('y'), properties: { [MessageProperty.WAIT]: 'false' } });
    expect(noWait.status).toBe(PutMessageStatus.PUT_OK);
    expect(seen.length).toBe(1);
  });
});
