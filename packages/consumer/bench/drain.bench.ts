/**
 * How fast one PushConsumer drains a backlog: a one-broker cluster in this
 * process, a backlog of COUNT messages of SIZE bytes sent in batches, then a PushConsumer in a child
 * process (so its CPU is measured apart from the broker's) consumes them all with a no-op handler.
 *
 *   node --conditions=@karman/source --import tsx bench/drain.bench.ts [count=1000000] [size=1024]
 *
 * Prints the backlog build rate, the drain rate (messages/s from the consumer's start to the last
 * message) and the consumer process's CPU (user + system time over wall time; 100 % = one core).
 *
 * With PROFILE_DIR set, the drain is CPU-profiled on both sides: the child runs with `--cpu-prof`,
 * and this process (the broker) profiles itself from the child's start to its end, so the backlog
 * build is left out. Both write `.cpuprofile` files into PROFILE_DIR.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Producer } from '@karman/producer';
import { startCluster, uniqueName } from '@karman/testkit';

const count = Number(process.argv[2] ?? 1_000_000);
const size = Number(process.argv[3] ?? 1024);
const BATCH = 128;
const PARALLEL = 8;

const cluster = await startCluster({ brokers: 1, brokerOptions: { mappedFileSizeCommitLog: 256 * 1024 * 1024, mappedFileSizeConsumeQueue: 6_000_000 } });
try {
  const topic = uniqueName('Bench');
  await cluster.createTopic(topic, { queues: 8 });
  const producer = new Producer({ nameservers: cluster.namesrvAddr, group: uniqueName('BenchP'), compressMsgBodyOverHowmuch: 1 << 30 });
  await producer.start();
  const body = Buffer.alloc(size, 'x');
  const began = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < count) {
        const n = Math.min(BATCH, count - next);
        next += n;
        await producer.sendBatch(Array.from({ length: n }, () => ({ topic, body })));
      }
    }),
  );
  const built = (Date.now() - began) / 1000;
  await producer.shutdown();
  console.log(`backlog: ${count} messages of ${size} B in ${built.toFixed(1)} s (${Math.round(count / built)} msg/s)`);

  const profileDir = process.env.PROFILE_DIR;
  const session = profileDir ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const profileFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profileFlags, '--conditions=@karman/source', '--import', 'tsx', fileURLToPath(new URL('./drain-child.ts', import.meta.url))], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, NAMESRV: cluster.namesrvAddr, TOPIC: topic, COUNT: String(count) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: child.stdout })) console.log(line);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${profileDir}/broker-${process.pid}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
} finally {
  await cluster.close();
}
