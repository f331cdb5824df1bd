/**
 * What the send-time check of compressed bodies costs: a lone master takes SEND_MESSAGE_V2 of the
 * same zlib bytes flagged compressed (the broker inflates them, at most maxMessageSize bytes, to
 * check their size) and not flagged (stored as they are, no inflate), alternating A B A B for
 * `SECONDS` each (default 3), 64 concurrent senders on one connection. The figure is the ratio of
 * the two rates in one run; the broker and the client share this process's event loop.
 *
 *   node --conditions=@karman/source --import tsx packages/broker/bench/compressed-send.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { MessageSysFlag, RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { Broker } from '../src/index.js';

const SECONDS = Number(process.env.SECONDS ?? 3);
const SENDERS = 64;
const TOPIC = 'BenchTopic';

/** A JSON-ish body of `size` bytes, compressed as a producer would (level 5). */
function body(size: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; parts.join('').length < size; i++) parts.push(`{"order":${i},"customer":"c-${(i * 7919) % 1000}","items":[${i % 5},${i % 3}],"note":"item ${i}"},`);
  return deflateSync(Buffer.from(parts.join('').slice(0, size)), { level: 5 });
}

async function rate(client: RemotingClient, zipped: Buffer, flagged: boolean): Promise<number> {
  let sent = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const sender = async (id: number): Promise<void> => {
    while (Date.now() < deadline) {
      const fields = { a: 'bench', b: TOPIC, c: 'TBW102', d: 8, e: id % 8, f: flagged ? MessageSysFlag.COMPRESSED : 0, g: Date.now(), h: 0, i: '', j: 0, k: false };
      const r = await client.request(createRequest(RequestCode.SEND_MESSAGE_V2.code, fields, zipped));
      if (r.code !== ResponseCode.SUCCESS.code) throw new Error(`send answered ${r.code}: ${r.remark}`);
      sent++;
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, (_, i) => sender(i)));
  return sent / SECONDS;
}

const root = mkdtempSync(join(tmpdir(), 'karman-zip-bench-'));
const broker = await Broker.start({ listenHost: '127.0.0.1', listenPort: 0, storePathRootDir: root, cleanResourceInterval: 0, mappedFileSizeCommitLog: 1024 * 1024 * 1024, logger: () => {} });
await broker.context.topics.upsert({ topicName: TOPIC, readQueueNums: 8, writeQueueNums: 8, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
const client = new RemotingClient(`tcp://${broker.address}`);
try {
  for (const inflated of [16 * 1024, 1024 * 1024]) {
    const zipped = body(inflated);
    const plain: number[] = [];
    const flagged: number[] = [];
    for (let round = 0; round < 2; round++) {
      plain.push(await rate(client, zipped, false));
      flagged.push(await rate(client, zipped, true));
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `${inflated / 1024} KiB inflated (${zipped.length} B sent): unflagged ${mean(plain).toFixed(0)} sends/s [${plain.map((x) => x.toFixed(0)).join(', ')}], ` +
        `flagged and checked ${mean(flagged).toFixed(0)} sends/s [${flagged.map((x) => x.toFixed(0)).join(', ')}], ratio ${(mean(flagged) / mean(plain)).toFixed(2)}`,
    );
  }
} finally {
  await client.close();
  await broker.close();
  rmSync(root, { recursive: true, force: true });
}
