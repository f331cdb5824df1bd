import { describe, expect, it } from 'vitest';
import { ConnectionClosedError, InvalidArgumentError, RequestTimeoutError } from './errors.js';
import { createRequest, createResponse } from './remoting-command.js';
import { RequestTable } from './request-table.js';

describe('RequestTable', () => {
  it('resolves a request with the response carrying its opaque, and ignores unknown opaques', async () => {
    const table = new RequestTable(() => 'peer:1');
    const request = createRequest(105);
    const pending = table.add(request, 1000);
    expect(table.settle(createResponse({ opaque: request.opaque + 1 }, 0))).toBe(false);
    expect(table.settle(createResponse(request, 0, 'ok'))).toBe(true);
    expect((await pending).remark).toBe('ok');
    expect(table.size).toBe(0);
  });

  it('times a request out with RequestTimeoutError naming the code, peer and timeout', async () => {
    const table = new RequestTable(() => 'peer:1');
    const error = await table.add(createRequest(105), 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as Error).message).toBe('request GET_ROUTEINFO_BY_TOPIC (105) to peer:1 got no response within 20 ms');
    expect(table.size).toBe(0);
  });

  it('refuses a second request with an opaque already pending', async () => {
    const table = new RequestTable(() => 'peer:1');
    const request = createRequest(105);
    const first = table.add(request, 1000);
    await expect(table.add(request, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
    table.rejectAll(new ConnectionClosedError('peer:1', 'test over'));
    await expect(first).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('rejects everything pending at once and reports each removal', async () => {
    const table = new RequestTable(() => 'peer:1');
    let removals = 0;
    table.onRemoved = () => removals++;
    const pending = [1, 2, 3].map(() => table.add(createRequest(10), 1000).catch((e: unknown) => e));
    table.rejectAll(new ConnectionClosedError('peer:1', 'dropped'));
    for (const result of await Promise.all(pending)) expect(result).toBeInstanceOf(ConnectionClosedError);
    expect(table.size).toBe(0);
    expect(removals).toBe(1);
  });

  it('rejects with the abort reason when the signal fires, before or after adding', async () => {
    const table = new RequestTable(() => 'peer:1');
    const controller = new AbortController();
    const pending = table.add(createRequest(10), 1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    await expect(table.add(createRequest(10), 1000, controller.signal)).rejects.toThrow('stop');
    const plain = new AbortController();
    plain.abort();
    await expect(table.add(createRequest(10), 1000, plain.signal)).rejects.toThrow(/abort/i);
    expect(table.size).toBe(0);
  });
});
