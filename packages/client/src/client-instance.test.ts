import { afterEach, describe, expect, it } from 'vitest';
import { RemotingServer, ResponseCode, SerializeType, createRequest, createResponse } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { ClientInstance } from './client-instance.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake broker that records the serialization of every request and answers in kind. */
async function recordingBroker(): Promise<{ address: string; seen: Array<number | undefined> }> {
  const seen: Array<number | undefined> = [];
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(34, (request: RemotingCommand) => {
    seen.push(request.serializeType);
    return createResponse(request, ResponseCode.SUCCESS.code);
  });
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return { address: `127.0.0.1:${port}`, seen };
}

describe('ClientInstance broker connections', () => {
  it.each([
    [undefined, SerializeType.ROCKETMQ],
    ['JSON', SerializeType.JSON],
    ['ROCKETMQ', SerializeType.ROCKETMQ],
  ] as const)('serializeType %s sends broker requests with %s headers, on both transports', async (option, expected) => {
    const broker = await recordingBroker();
    for (const transport of ['ws', 'tcp'] as const) {
      const instance = ClientInstance.acquire({ nameservers: '127.0.0.1:1', instanceName: `ser-${String(option)}-${transport}`, transport, ...(option ? { serializeType: option } : {}) });
      cleanups.push(() => instance.release());
      const response = await instance.broker(broker.address).request(createRequest(34, { clientID: 'x' }));
      expect(response.code).toBe(ResponseCode.SUCCESS.code);
    }
    expect(broker.seen).toEqual([expected, expected]);
  });
});
