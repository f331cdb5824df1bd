/**
 * A broker whose store was damaged while it was stopped, as an operator meets it: a flipped body in
 * an old commit-log segment and a consume-queue unit overwritten to point into the middle of a
 * record. After the restart consumeMessage reads the whole topic (the damaged message skipped, the
 * queue with the bad unit complete), queryQuarantinedMsg lists the damaged record, /metrics counts
 * it, and scrubStore reports it, through the running broker and offline on the stopped one's folder.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOffsetMessageId } from '@karman/protocol';
import { Producer } from '@karman/producer';
import type { SendResult } from '@karman/producer';
import { startCluster, uniqueName } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { run } from '../src/cli.js';

const SEGMENT = 4096;
const CQ_FILE = 20 * 50;
const QUEUES = 4;
const MESSAGES = 400;

let cluster: TestCluster;
let topic: string;
let sent: Array<SendResult & { body: string }>;

async function admin(argv: string[], withNameserver = true): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run([argv[0]!, ...(withNameserver ? ['-n', cluster.namesrvAddr] : []), ...argv.slice(1)], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
  });
  return { code, out, err };
}

function readAt(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, position);
    return b;
  } finally {
    closeSync(fd);
  }
}

function writeAt(path: string, position: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

function segmentPath(offset: number): string {
  return join(cluster.brokers[0]!.storeDir, 'commitlog', String(offset - (offset % SEGMENT)).padStart(20, '0'));
}

const physical = (s: SendResult): number => decodeOffsetMessageId(s.offsetMsgId).physicalOffset;

let damagedBody: SendResult & { body: string };
let badUnit: SendResult & { body: string };

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, brokerOptions: { mappedFileSizeCommitLog: SEGMENT, mappedFileSizeConsumeQueue: CQ_FILE } });
  topic = uniqueName('Integrity');
  await cluster.createTopic(topic, { queues: QUEUES });
  const producer = new Producer({ nameservers: cluster.nameservers, group: uniqueName('IntegrityP') });
  await producer.start();
  sent = [];
  try {
    for (let i = 0; i < MESSAGES; i++) {
      const body = `integrity-${i}-`.padEnd(150, 'x');
      const queue = { topic, brokerName: 'broker-a', queueId: i % QUEUES };
      sent.push({ ...(await producer.send({ topic, body: Buffer.from(body) }, { queue })), body });
    }
  } finally {
    await producer.shutdown();
  }
  await cluster.stopBroker('broker-a');

  // A flipped body in an old segment (queue 1), which recovery does not re-check.
  damagedBody = sent[41]!;
  const phy = physical(damagedBody);
  const size = readAt(segmentPath(phy), phy % SEGMENT, 4).readInt32BE(0);
  const record = readAt(segmentPath(phy), phy % SEGMENT, size);
  const bodyAt = record.indexOf(damagedBody.body);
  expect(bodyAt).toBeGreaterThan(0);
  const flipped = record.subarray(bodyAt + 20, bodyAt + 24).map((b) => b ^ 0x5a);
  writeAt(segmentPath(phy), (phy % SEGMENT) + bodyAt + 20, Buffer.from(flipped));

  // Queue 3's unit 5 (its first consume-queue file) now points 16 bytes into its record.
  badUnit = sent[23]!;
  expect([badUnit.messageQueue.queueId, badUnit.queueOffset]).toEqual([3, 5]);
  const unit = Buffer.alloc(20);
  unit.writeBigInt64BE(BigInt(physical(badUnit) + 16), 0);
  unit.writeInt32BE(size, 8);
  writeAt(join(cluster.brokers[0]!.storeDir, 'consumequeue', topic, '3', '00000000000000000000'), 5 * 20, unit);

  await cluster.startBroker('broker-a');
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('a broker restarted on a damaged store', () => {
  it('consumeMessage reads the whole topic: the damaged message skipped, the queue with the bad unit complete', async () => {
    const result = await admin(['consumeMessage', '-t', topic, '-c', String(MESSAGES + 10), '--json']);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const got = JSON.parse(result.out) as Array<{ queueId: number; queueOffset: number; body: string }>;
    const expected = sent.filter((s) => s !== damagedBody).map((s) => `${s.messageQueue.queueId}/${s.queueOffset}/${s.body}`);
    expect(got.map((m) => `${m.queueId}/${m.queueOffset}/${m.body}`).sort()).toEqual(expected.sort());
  });

  it('queryQuarantinedMsg lists the damaged record with its queue', async () => {
    const result = await admin(['queryQuarantinedMsg', '-b', cluster.brokers[0]!.address, '--json']);
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.out) as { quarantinedTotal: number; records: Array<Record<string, unknown>> };
    expect(answer.quarantinedTotal).toBe(1);
    expect(answer.records).toMatchObject([{ offset: physical(damagedBody), topic, queueId: 1, queueOffset: damagedBody.queueOffset, detectedBy: 'read' }]);
    expect(answer.records[0]!.reason).toMatch(/CRC/);
    const human = await admin(['queryQuarantinedMsg', '-b', cluster.brokers[0]!.address]);
    expect(human.out).toContain(`${topic}/1@${damagedBody.queueOffset}`);
  });

  it('/metrics counts the quarantined record and the rebuilt unit', async () => {
    const text = await (await fetch(`http://${cluster.brokers[0]!.address}/metrics`)).text();
    expect(text).toMatch(/^karman_store_quarantined_records_total 1$/m);
    expect(text).toMatch(/^karman_store_quarantined_records 1$/m);
    expect(text).toMatch(/^karman_store_consume_queue_units_repaired_total 1$/m);
  });

  it('scrubStore checks the running broker, then the stopped one offline, and reports the damage', async () => {
    const online = await admin(['scrubStore', '-b', cluster.brokers[0]!.address, '--json']);
    expect(online.code).toBe(1); // damage found
    const report = JSON.parse(online.out) as Record<string, number>;
    expect(report).toMatchObject({ from: 0, recordsChecked: MESSAGES - 1, damaged: 1, newlyQuarantined: 0, quarantinedTotal: 1, unitsRepaired: 0 });
    expect(report.bytesChecked).toBe(report.to);
    expect(report.mbPerSecond).toBeGreaterThan(0);

    await cluster.stopBroker('broker-a');
    try {
      const offline = await admin(['scrubStore', '--store', cluster.brokers[0]!.storeDir, '--mappedFileSizeCommitLog', String(SEGMENT), '--mappedFileSizeConsumeQueue', String(CQ_FILE)], false);
      expect(offline.code).toBe(1);
      expect(offline.out).toMatch(/recordsChecked\s+: 399/);
      expect(offline.out).toMatch(/damaged\s+: 1/);
      expect(offline.out).toMatch(/speed\(MB\/s\)\s+: \d/);
    } finally {
      await cluster.startBroker('broker-a');
    }
  });
});
