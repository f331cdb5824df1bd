/**
 * A member killed with SIGKILL mid-stream (a child process, so nothing runs on its way out): the
 * broker notices its connection close, the survivor takes over its queues from the last commit,
 * and no message is lost (some are seen twice: at-least-once).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

const fixture = fileURLToPath(new URL('./fixtures/crashing-consumer.ts', import.meta.url));
// tsx is this package's dev dependency: resolve `--import tsx` from here.
const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('a consumer process killed mid-stream', () => {
  it('the others take over its queues and nothing is lost', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 4 });
    await using producer = await startProducer(cluster);
    const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', fixture], {
      env: { ...process.env, NAMESRV: cluster.namesrvAddr, TOPIC: topic, GROUP: group },
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const byChild = new Set<string>();
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') ready = true;
      else if (line.startsWith('consumed ')) byChild.add(line.slice(9));
    });
    let alive = true;
    const exited = new Promise((resolve) => child.once('exit', resolve)).finally(() => (alive = false));
    const bySurvivor = new Set<string>();
    const survivor = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, instanceName: uniqueName('s'), subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void bySurvivor.add(m.msgId) });
    try {
      await waitFor(() => ready || !alive, 'the child consumer to start', 15_000);
      expect(alive).toBe(true);
      await survivor.start();
      await waitFor(() => survivor.assignment().filter((q) => q.topic === topic).length === 2, 'a 2/2 split with the child');
      const sent = await sendMessages(producer, topic, 200);
      await waitFor(() => byChild.size > 20, 'the child to consume some messages');
      child.kill('SIGKILL');
      await exited;
      sent.push(...(await sendMessages(producer, topic, 100, (i) => ({ body: `after-${i}` }))));
      await waitFor(() => survivor.assignment().filter((q) => q.topic === topic).length === 4, 'the survivor owning all 4 queues', 10_000);
      await waitFor(() => sent.every((s) => byChild.has(s.msgId) || bySurvivor.has(s.msgId)), 'every message consumed by one of them', 10_000);
      expect(sent.filter((s) => !byChild.has(s.msgId) && !bySurvivor.has(s.msgId))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await survivor.shutdown();
    }
  });
});
