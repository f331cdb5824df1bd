/**
 * The launcher itself: a started cluster is registered, on free ports, with the names and
 * broker.conf / namesrv.conf entries asked for; close() kills both JVMs, frees the ports and
 * removes the folder; bad names are refused before any JVM starts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, RemotingClient, RequestCode, createRequest, parseRemotingJson } from '@karman/protocol';
import { APACHE_ROCKETMQ_VERSION, apacheRocketMQClasspath, startApacheRocketMQ } from '../src/apache-rocketmq.js';
import { apacheRocketMQSkipReason, requireApacheRocketMQUnderCI } from './rocketmq-fixture.js';

const skipReason = apacheRocketMQSkipReason();
requireApacheRocketMQUnderCI(skipReason);

const title = 'startApacheRocketMQ';

/** Whether something accepts TCP connections on `address` (`host:port`). */
function listening(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host: host!, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(skipReason !== undefined)(skipReason === undefined ? title : `${title} (SKIPPED: ${skipReason})`, () => {
  it('starts a registered nameserver and broker with the names and config asked for, and close() removes every trace', async () => {
    const started = Date.now();
    const rmq = await startApacheRocketMQ({ clusterName: 'LauncherCluster', brokerName: 'launcher-b', autoCreateTopicEnable: false, brokerConfig: { maxMessageSize: 1_048_576 }, nameserverConfig: { orderMessageEnable: true } });
    const startMillis = Date.now() - started;
    let closed = false;
    try {
      expect(rmq.version).toBe(APACHE_ROCKETMQ_VERSION);
      expect([rmq.clusterName, rmq.brokerName]).toEqual(['LauncherCluster', 'launcher-b']);
      expect(rmq.namesrvAddr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(rmq.brokerAddr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(readFileSync(join(rmq.root, 'conf', 'broker.conf'), 'utf8')).toMatch(/^autoCreateTopicEnable=false$/m);
      expect(readFileSync(join(rmq.root, 'conf', 'namesrv.conf'), 'utf8')).toMatch(/^orderMessageEnable=true$/m);
      expect(rmq.output('broker')).toContain('boot success');
      expect(rmq.output('namesrv')).toContain('The Name Server boot success');

      await using nameserver = new RemotingClient(`tcp://${rmq.namesrvAddr}`, { reconnect: false });
      const cluster = await nameserver.request(createRequest(RequestCode.GET_BROKER_CLUSTER_INFO.code, {}));
      const info = parseRemotingJson(Buffer.from(cluster.body!).toString('utf8')) as { clusterAddrTable: Record<string, string[]> };
      expect(info.clusterAddrTable).toEqual({ LauncherCluster: ['launcher-b'] });

      // The broker runs with the generated entries and the extra ones (GET_BROKER_CONFIG answers properties text).
      await using broker = new RemotingClient(`tcp://${rmq.brokerAddr}`, { reconnect: false });
      const config = Buffer.from((await broker.request(createRequest(RequestCode.GET_BROKER_CONFIG.code, {}))).body!).toString('utf8');
      expect(config).toMatch(/^autoCreateTopicEnable=false$/m);
      expect(config).toMatch(/^maxMessageSize=1048576$/m);
      expect(config).toMatch(/^brokerIP1=127\.0\.0\.1$/m);

      const stopping = Date.now();
      await rmq.close();
      closed = true;
      const stopMillis = Date.now() - stopping;
      expect(existsSync(rmq.root)).toBe(false);
      expect(await listening(rmq.brokerAddr)).toBe(false);
      expect(await listening(rmq.namesrvAddr)).toBe(false);
      console.info(`Apache RocketMQ ${rmq.version}: started in ${startMillis} ms, closed in ${stopMillis} ms`);
      expect(stopMillis).toBeLessThan(5_000);
    } finally {
      if (!closed) await rmq.close();
    }
  }, 120_000);

  it('refuses a broker or cluster name broker.conf cannot carry, before starting a JVM', async () => {
    await expect(startApacheRocketMQ({ brokerName: 'a b' })).rejects.toThrow(InvalidArgumentError);
    await expect(startApacheRocketMQ({ clusterName: 'x=y' })).rejects.toThrow(/brokerName and clusterName must be 1–64 letters/);
  });

  it('keeps the resolved class path, so later starts need no Maven', () => {
    const classpath = apacheRocketMQClasspath();
    expect(classpath).toContain(`rocketmq-broker-${APACHE_ROCKETMQ_VERSION}.jar`);
    expect(classpath).toContain(`rocketmq-namesrv-${APACHE_ROCKETMQ_VERSION}.jar`);
  });
});
