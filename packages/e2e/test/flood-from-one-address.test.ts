/**
 * One address floods a broker with 10,000 parked long polls, then the nameserver with 10,000 idle
 * connections, the limit of the whole server (`maxConnections`, 10,000). With every default in
 * force, clients from another address, karman-admin and `/metrics` must still be answered; the
 * refusals must be counted, and logged once for the flood rather than once per socket.
 */
import { execFileSync } from 'node:child_process';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RequestCode, createRequest, encodeFrame } from '@karman/protocol';
import { runKarmanAdmin, startProcessCluster, uniqueName } from '@karman/testkit';

const FLOOD = 10_000;
const FLOOD_ADDRESS = '127.0.0.2';

/** Open `count` sockets from FLOOD_ADDRESS to `port`, each sending `frame` once; resolves when every one is connected or refused. */
async function flood(port: number, count: number, frame: Buffer): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let start = 0; start < count; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - start) }, () => {
        const socket = connectTcp({ host: '127.0.0.1', port, localAddress: FLOOD_ADDRESS });
        sockets.push(socket);
        socket.on('error', () => {});
        return new Promise<void>((resolve) => {
          socket.once('connect', () => {
            socket.write(frame);
            resolve();
          });
          socket.once('close', () => resolve());
        });
      }),
    );
  }
  return sockets;
}

async function metrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(check: () => Promise<boolean>, what: string, timeoutMillis = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a flood of connections from one address', () => {
  it('leaves other addresses, karman-admin and /metrics served, and is refused past maxConnectionsPerAddress', { timeout: 180_000 }, async () => {
    // The flood's sockets are this process's file descriptors: say so rather than fail with EMFILE.
    const openFiles = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    if (openFiles < FLOOD + 1000) throw new Error(`this test opens ${FLOOD} sockets at once but ulimit -n is ${openFiles}; raise it to at least ${FLOOD + 1000} (ulimit -n ${FLOOD + 1000})`);
    await using cluster = await startProcessCluster();
    const topic = uniqueName('FloodTopic');
    await cluster.createTopic(topic, { queues: 4 });
    const brokerPort = Number(cluster.brokerAddr().split(':')[1]);
    const nameserverPort = Number(cluster.namesrvAddr.split(':')[1]);

    // 10,000 long polls on an empty queue, each held by the broker for 60 s.
    const pull = createRequest(RequestCode.PULL_MESSAGE.code, {
      consumerGroup: uniqueName('flood'),
      topic,
      queueId: 0,
      queueOffset: 0,
      maxMsgNums: 32,
      sysFlag: 0x2 | 0x4, // suspend, subscription
      commitOffset: 0,
      suspendTimeoutMillis: 60_000,
      subscription: '*',
      subVersion: 0,
      expressionType: 'TAG',
    });
    const brokerFlood = await flood(brokerPort, FLOOD, encodeFrame(pull));
    try {
      let text = '';
      await until(async () => sample((text = await metrics(brokerPort)), 'karman_remoting_refused_connections_total{reason="max_connections_per_address"}') === FLOOD - 1000, '9,000 refusals in /metrics');
      await until(async () => sample((text = await metrics(brokerPort)), 'karman_broker_held_pull_requests') === 1000, '1,000 held pulls');
      expect(sample(text, 'karman_remoting_refused_connections_total{reason="max_connections"}')).toBe(0);

      // karman-admin, from 127.0.0.1, reaches the nameserver and the broker.
      const status = await runKarmanAdmin(['brokerStatus', '-n', cluster.namesrvAddr, '-b', cluster.brokerAddr()]);
      expect([status.code, status.stderr]).toEqual([0, '']);
      expect(status.stdout).toContain('brokerVersionDesc');
      const clusters = await runKarmanAdmin(['clusterList', '-n', cluster.namesrvAddr]);
      expect([clusters.code, clusters.stderr]).toEqual([0, '']);
      expect(clusters.stdout).toContain('broker-a');

      // The refusals are one warning line for the whole flood (the summary comes after a minute).
      const refusalLines = cluster.brokerProcess()!.lines.filter((l) => JSON.stringify(l).includes('maxConnectionsPerAddress 1000'));
      expect(refusalLines).toHaveLength(1);
    } finally {
      for (const socket of brokerFlood) socket.destroy();
    }

    // The nameserver's listener has the same limit; its /health says what it refused.
    const nameserverFlood = await flood(nameserverPort, FLOOD, encodeFrame(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic })));
    try {
      const health = async (): Promise<{ remoting: Record<string, number> }> => (await fetch(`http://127.0.0.1:${nameserverPort}/health`)).json() as Promise<{ remoting: Record<string, number> }>;
      await until(async () => (await health()).remoting.refusedOverMaxConnectionsPerAddress === FLOOD - 1000, '9,000 refusals by the nameserver');
      const route = await runKarmanAdmin(['topicRoute', '-t', topic, '-n', cluster.namesrvAddr]);
      expect([route.code, route.stderr]).toEqual([0, '']);
      expect(route.stdout).toContain('broker-a');
      const refusalLines = cluster.nameserverProcess()!.lines.filter((l) => JSON.stringify(l).includes('maxConnectionsPerAddress 1000'));
      expect(refusalLines).toHaveLength(1);
    } finally {
      for (const socket of nameserverFlood) socket.destroy();
    }
  });
});
