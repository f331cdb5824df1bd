/**
 * Send throughput of a lone master, an ASYNC_MASTER pair and a SYNC_MASTER pair in one run, and
 * the replication lag under that load. 1 KiB bodies from 64 concurrent
 * senders over one TCP connection, for `SECONDS` each (default 5). Brokers run in this process,
 * so client and brokers share one event loop: the figures compare the three setups with each
 * other, they are not a broker's ceiling.
 *
 *   node --conditions=@karman/source --import tsx packages/broker/bench/replication.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { Broker } from '../src/index.js';
import type { BrokerOptions } from '../src/index.js';

const SECONDS = Number(process.env.SECONDS ?? 5);
const SENDERS = 64;
const BODY = Buffer.alloc(1024, 'x');
const TOPIC = 'BenchTopic';

interface Outcome {
  setup: string;
  sendsPerSecond: number;
  nonSuccess: number;
  maxLagBytes: number;
  maxLagSeconds: number;
  lagAtEndBytes: number;
}

async function start(dir: string, options: BrokerOptions): Promise<Broker> {
  return Broker.start({ listenHost: '127.0.0.1', listenPort: 0, storePathRootDir: dir, cleanResourceInterval: 0, mappedFileSizeCommitLog: 256 * 1024 * 1024, logger: () => {}, ...options });
}

async function run(setup: string, role: 'ASYNC_MASTER' | 'SYNC_MASTER', withSlave: boolean): Promise<Outcome> {
  const root = mkdtempSync(join(tmpdir(), 'karman-ha-bench-'));
  const master = await start(join(root, 'master'), { brokerRole: role });
  const slave = withSlave ? await start(join(root, 'slave'), { brokerRole: 'SLAVE', brokerId: 1, haMasterAddress: master.address, haReconnectInterval: 50 }) : undefined;
  await master.context.topics.upsert({ topicName: TOPIC, readQueueNums: 8, writeQueueNums: 8, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  while (slave && master.context.replication?.slaves().length !== 1) await new Promise((r) => setTimeout(r, 10));
  const client = new RemotingClient(`tcp://${master.address}`);
  let sent = 0;
  let nonSuccess = 0;
  let maxLagBytes = 0;
  let maxLagSeconds = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const sampler = setInterval(() => {
    for (const s of master.context.replication?.slaves() ?? []) {
      maxLagBytes = Math.max(maxLagBytes, s.lagBytes);
      maxLagSeconds = Math.max(maxLagSeconds, s.lagSeconds);
    }
  }, 50);
  const sender = async (id: number): Promise<void> => {
    while (Date.now() < deadline) {
      const r = await client.request(
        createRequest(RequestCode.SEND_MESSAGE_V2.code, { a: 'bench', b: TOPIC, c: 'TBW102', d: 8, e: id % 8, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, BODY),
      );
      if (r.code === ResponseCode.SUCCESS.code) sent++;
      else nonSuccess++;
    }
  };
  const began = Date.now();
  await Promise.all(Array.from({ length: SENDERS }, (_, i) => sender(i)));
  const elapsed = (Date.now() - began) / 1000;
  clearInterval(sampler);
  const lagAtEndBytes = slave ? master.context.store.maxPhyOffset - slave.context.store.maxPhyOffset : 0;
  await client.close();
  await slave?.close();
  await master.close();
  rmSync(root, { recursive: true, force: true });
  return { setup, sendsPerSecond: Math.round(sent / elapsed), nonSuccess, maxLagBytes, maxLagSeconds, lagAtEndBytes };
}

const results: Outcome[] = [];
results.push(await run('lone ASYNC_MASTER', 'ASYNC_MASTER', false));
results.push(await run('ASYNC_MASTER + SLAVE', 'ASYNC_MASTER', true));
results.push(await run('SYNC_MASTER + SLAVE', 'SYNC_MASTER', true));
console.log(`| setup | sends/s (1 KiB, ${SENDERS} senders, ${SECONDS} s) | non-SUCCESS answers | max lag bytes | max lag s | lag at end bytes |`);
console.log('|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.setup} | ${r.sendsPerSecond} | ${r.nonSuccess} | ${r.maxLagBytes} | ${r.maxLagSeconds.toFixed(3)} | ${r.lagAtEndBytes} |`);
