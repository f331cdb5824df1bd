import { describe, expect, it } from 'vitest';
import type { ClientChannel, ClientInfo, HeartbeatData } from './client-manager.js';
import { ClientManager, HeartbeatDataSchema } from './client-manager.js';

let nextId = 1;
function channel(): ClientChannel & { closedWith?: string } {
  const c: ClientChannel & { closedWith?: string; closed: boolean } = {
    id: nextId++,
    remoteAddress: '127.0.0.1:1',
    closed: false,
    oneway() {},
    request: () => Promise.reject(new Error('not used by these tests')),
    close(reason) {
      c.closed = true;
      c.closedWith = reason;
    },
  };
  return c;
}

function consumerHeartbeat(clientID: string, group: string, topic = 'T'): HeartbeatData {
  return HeartbeatDataSchema.parse({
    clientID,
    consumerDataSet: [{ groupName: group, subscriptionDataSet: [{ topic, subString: 'A || B', tagsSet: ['A', 'B'], codeSet: [65, 66], subVersion: 1 }] }],
  });
}

describe('ClientManager', () => {
  it('registers consumers from heartbeats and reports membership changes once', () => {
    const events: Array<[string, string[]]> = [];
    let now = 0;
    const m = new ClientManager({ channelExpiredTimeout: 100, clock: () => now, onConsumerIdsChanged: (g, members: ClientInfo[]) => events.push([g, members.map((x) => x.clientId).sort()]) });
    const a = channel();
    const b = channel();
    expect(m.heartbeat(a, consumerHeartbeat('c2', 'g'))).toEqual(['g']);
    expect(m.heartbeat(b, consumerHeartbeat('c1', 'g'))).toEqual(['g']);
    now = 10;
    expect(m.heartbeat(a, consumerHeartbeat('c2', 'g'))).toEqual([]);
    expect(m.consumerIds('g')).toEqual(['c1', 'c2']);
    expect(m.consumerGroup('g')?.subscriptions.get('T')?.tagsSet).toEqual(['A', 'B']);
    expect(events).toEqual([
      ['g', ['c2']],
      ['g', ['c1', 'c2']],
    ]);
  });

  it('drops members at once when their connection closes', () => {
    const events: string[] = [];
    const m = new ClientManager({ channelExpiredTimeout: 100, onConsumerIdsChanged: (g) => events.push(g) });
    const a = channel();
    m.heartbeat(a, consumerHeartbeat('c1', 'g'));
    m.heartbeat(a, HeartbeatDataSchema.parse({ clientID: 'c1', producerDataSet: [{ groupName: 'p' }] }));
    m.channelClosed(a);
    expect(m.consumerIds('g')).toEqual([]);
    expect(m.producerGroup('p')).toEqual([]);
    expect(events).toEqual(['g', 'g']);
  });

  it('expires silent clients after channelExpiredTimeout and closes their connection', () => {
    let now = 0;
    const m = new ClientManager({ channelExpiredTimeout: 100, clock: () => now });
    const quiet = channel();
    const chatty = channel();
    m.heartbeat(quiet, consumerHeartbeat('quiet', 'g'));
    m.heartbeat(chatty, consumerHeartbeat('chatty', 'g'));
    now = 80;
    m.heartbeat(chatty, consumerHeartbeat('chatty', 'g'));
    now = 150;
    m.scanExpired();
    expect(m.consumerIds('g')).toEqual(['chatty']);
    expect(quiet.closedWith).toMatch(/expired/);
    expect(chatty.closed).toBe(false);
  });

  it('unregisters a client from the named groups', () => {
    const m = new ClientManager({ channelExpiredTimeout: 100 });
    m.heartbeat(channel(), consumerHeartbeat('c1', 'g'));
    m.unregister('c1', undefined, 'g');
    expect(m.consumerGroups()).toEqual([]);
  });

  it('rejects a heartbeat body without a client id', () => {
    expect(HeartbeatDataSchema.safeParse({ consumerDataSet: [] }).success).toBe(false);
  });
});
