import { afterEach, describe, expect, it } from 'vitest';
import { RemotingServer, RequestCode, ResponseCode, createResponse } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { NameServerRegistrar } from './nameserver-registrar.js';
import type { TopicConfig } from './topic-config-manager.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A nameserver that answers REGISTER_BROKER after `delayMillis`, keeping every body it was sent. */
async function slowNameServer(delayMillis: number): Promise<{ address: string; bodies: string[][] }> {
  const bodies: string[][] = [];
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(RequestCode.REGISTER_BROKER.code, async (request: RemotingCommand) => {
    const table = (JSON.parse(Buffer.from(request.body ?? []).toString('utf8')) as { topicConfigSerializeWrapper: { topicConfigTable: Record<string, unknown> } }).topicConfigSerializeWrapper.topicConfigTable;
    bodies.push(Object.keys(table).sort());
    await new Promise((r) => setTimeout(r, delayMillis));
    return createResponse(request, ResponseCode.SUCCESS.code);
  });
  server.registerHandler(RequestCode.UNREGISTER_BROKER.code, (request: RemotingCommand) => createResponse(request, ResponseCode.SUCCESS.code));
  const { port } = await server.listen();
  closers.push(() => server.close());
  return { address: `127.0.0.1:${port}`, bodies };
}

const topic = (topicName: string): TopicConfig => ({ topicName, readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });

describe('NameServerRegistrar.registerAll', () => {
  it('folds a burst of calls made during a round into one more round, which carries the last change', async () => {
    const ns = await slowNameServer(150);
    const table: Record<string, TopicConfig> = { T0: topic('T0') };
    const registrar = new NameServerRegistrar({
      nameservers: [ns.address],
      identity: () => ({ clusterName: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '127.0.0.1:10911', haServerAddr: '127.0.0.1:10912' }),
      topics: () => ({ topicConfigTable: { ...table }, dataVersion: { timestamp: 1, counter: Object.keys(table).length } }),
      period: 60_000,
      timeout: 2_000,
    });
    closers.push(() => registrar.stop());
    const first = registrar.registerAll();
    // Ten topic changes while the first round is on the wire, each asking for a registration.
    await new Promise((r) => setTimeout(r, 30));
    const burst = Array.from({ length: 10 }, (_, i) => {
      table[`T${i + 1}`] = topic(`T${i + 1}`);
      return registrar.registerAll();
    });
    await Promise.all([first, ...burst]);
    // Two registrations, not eleven; the second lists every topic, and every caller waited for it.
    expect(ns.bodies.length).toBe(2);
    expect(ns.bodies[0]).toEqual(['T0']);
    expect(ns.bodies[1]).toEqual(Array.from({ length: 11 }, (_, i) => `T${i}`).sort());
    // Quiet again: the next call is a round of its own.
    await registrar.registerAll();
    expect(ns.bodies.length).toBe(3);
  });
});
