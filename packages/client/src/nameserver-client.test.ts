import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, RemotingServer, RequestCode, ResponseCode, createRequest, createResponse } from '@karman/protocol';
import { NameServerClient } from './nameserver-client.js';

const servers: RemotingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function nameserver(name: string): Promise<string> {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, (request) => createResponse(request, ResponseCode.SUCCESS.code, name));
  servers.push(server);
  const { port } = await server.listen();
  return `127.0.0.1:${port}`;
}

describe('NameServerClient', () => {
  it.each(['ws', 'tcp'] as const)('moves to the next nameserver when the current one is down (%s)', async (transport) => {
    const a = await nameserver('a');
    const b = await nameserver('b');
    const switches: string[] = [];
    const client = new NameServerClient([a, b], { transport, requestTimeoutMillis: 1000, onSwitch: (_from, to) => switches.push(to) });
    const first = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T' }));
    const firstName = first.remark;
    await servers[firstName === 'a' ? 0 : 1]!.close();
    const second = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T' }));
    expect(second.remark).toBe(firstName === 'a' ? 'b' : 'a');
    expect(switches).toEqual([firstName === 'a' ? b : a]);
    // It stays on the one that answers.
    expect((await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T' }))).remark).toBe(second.remark);
    await client.close();
  });

  it('says which nameservers it tried when none answers', async () => {
    const a = await nameserver('a');
    await servers[0]!.close();
    const client = new NameServerClient([a, '127.0.0.1:1'], { transport: 'tcp', requestTimeoutMillis: 500 });
    const error = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect((error as Error).message).toContain(`${a};127.0.0.1:1`);
    expect((error as Error).message).toMatch(/no nameserver answered/);
    await client.close();
  });
});
