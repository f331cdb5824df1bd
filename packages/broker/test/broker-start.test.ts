import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, createRequest, ResponseCode } from '@karman/protocol';
import { Broker } from '../src/broker.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-broker-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Broker lifecycle', () => {
  it('starts on an ephemeral port with its store and tables, answers over TCP and WebSocket, and stops cleanly', async () => {
    const broker = await Broker.start({ listenHost: '127.0.0.1', listenPort: 0, storePathRootDir: dir, mappedFileSizeCommitLog: 64 * 1024 });
    expect(broker.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dir, 'commitlog'))).toBe(true);
    for (const address of [`tcp://${broker.address}`, broker.address]) {
      const client = new RemotingClient(address);
      const response = await client.request(createRequest(9999));
      expect(response.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code);
      await client.close();
    }
    const health = await fetch(`http://${broker.address}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', role: 'ASYNC_MASTER', brokerName: 'broker-a' });
    const metrics = await fetch(`http://${broker.address}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^karman_/m);
    await broker.close();
    expect(existsSync(join(dir, 'abort'))).toBe(false);
  });

  it('refuses a second broker on the same store folder with a clear error', async () => {
    await using broker = await Broker.start({ listenHost: '127.0.0.1', listenPort: 0, storePathRootDir: dir, mappedFileSizeCommitLog: 64 * 1024 });
    await expect(Broker.start({ listenHost: '127.0.0.1', listenPort: 0, storePathRootDir: dir })).rejects.toThrow(/already open/);
    expect(broker.port).toBeGreaterThan(0);
  });
});
