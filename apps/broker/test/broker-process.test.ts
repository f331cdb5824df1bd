/**
 * karman-broker as a real process: it starts on an ephemeral port and says where, serves
 * GET /health and remoting requests, registers with a running nameserver, keeps its topics on
 * disk, and stops cleanly on SIGTERM and SIGINT (exit 0, no abort marker left in the store).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startNameServer } from '@karman/nameserver';
import { SMALL_STORE, runBroker, waitForLine } from './process-harness.js';
import type { RunningBroker } from './process-harness.js';

describe('karman-broker process', () => {
  let dir: string;
  const running: RunningBroker[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-broker-app-'));
  });
  afterEach(async () => {
    for (const r of running.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /health and remoting, registers with the nameserver, and stops cleanly on SIGTERM', async () => {
    await using ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0 });
    const store = join(dir, 'store');
    const first = runBroker(['--listen', '127.0.0.1:0', '--namesrv', ns.address, '--broker-name', 'broker-app', '--store', store, ...SMALL_STORE]);
    running.push(first);
    const listening = await waitForLine(first, 'karman-broker listening');
    expect(listening).toMatchObject({ name: 'karman-broker', level: 30, host: '127.0.0.1', brokerName: 'broker-app', role: 'ASYNC_MASTER', store });
    const port = listening.port as number;
    expect(port).toBeGreaterThan(0);
    expect(listening.address).toBe(`127.0.0.1:${port}`);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', role: 'ASYNC_MASTER', brokerName: 'broker-app' });

    const client = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
    const created = await client.request(
      createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: 'AppTopic', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    );
    expect(created.code).toBe(ResponseCode.SUCCESS.code);
    await client.close();

    // The topic change re-registers at once: the nameserver routes AppTopic to this broker.
    const nsClient = new RemotingClient(ns.address, { reconnect: false });
    try {
      let route;
      for (let i = 0; i < 100; i++) {
        route = await nsClient.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'AppTopic' }));
        if (route.code === ResponseCode.SUCCESS.code) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(route?.code).toBe(ResponseCode.SUCCESS.code);
      expect(JSON.parse(Buffer.from(route!.body ?? []).toString())).toMatchObject({
        brokerDatas: [{ brokerName: 'broker-app', brokerAddrs: { '0': `127.0.0.1:${port}` } }],
        queueDatas: [{ brokerName: 'broker-app', readQueueNums: 2, writeQueueNums: 2 }],
      });

      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(first.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
      expect(existsSync(join(store, 'abort'))).toBe(false);
      // A clean stop unregisters: the route is gone.
      const after = await nsClient.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'AppTopic' }));
      expect(after.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    } finally {
      await nsClient.close();
    }

    // Same store, same port, SIGINT this time: the topic is still there.
    const second = runBroker(['--listen', `127.0.0.1:${port}`, '--store', store, ...SMALL_STORE]);
    running.push(second);
    await waitForLine(second, 'karman-broker listening');
    const again = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
    try {
      const topics = await again.request(createRequest(RequestCode.GET_ALL_TOPIC_CONFIG.code));
      expect(JSON.parse(Buffer.from(topics.body ?? []).toString())).toMatchObject({ topicConfigTable: { AppTopic: { readQueueNums: 2 } } });
    } finally {
      await again.close();
    }
    second.child.kill('SIGINT');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('--help lists flags and options with defaults and exits 0; bad options exit 2 naming them; a held store exits 1', async () => {
    const help = runBroker(['--help']);
    expect(await help.exited).toEqual({ code: 0, signal: null });
    const text = help.lines.map((l) => l.text).join('\n');
    expect(text).toMatch(/--listen HOST:PORT/);
    expect(text).toMatch(/flushConsumerOffsetInterval +How often consumer offsets are written to disk\. \(default: 5000\)/);

    const bad = runBroker(['--set', 'brokerId=-1']);
    expect(await bad.exited).toEqual({ code: 2, signal: null });
    expect(bad.stderr()).toMatch(/brokerId=/);

    const store = join(dir, 'held');
    const holder = runBroker(['--listen', '127.0.0.1:0', '--store', store, ...SMALL_STORE]);
    running.push(holder);
    await waitForLine(holder, 'karman-broker listening');
    const second = runBroker(['--listen', '127.0.0.1:0', '--store', store, ...SMALL_STORE]);
    running.push(second);
    expect((await second.exited).code).toBe(1);
    expect(second.lines.find((l) => l.msg === 'karman-broker failed to start')).toBeDefined();
    holder.child.kill('SIGTERM');
    expect((await holder.exited).code).toBe(0);
  });
});
