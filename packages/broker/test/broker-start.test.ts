import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MessageStore } from '@karman/commitlog';
import { RemotingClient, RequestCode, createRequest, ResponseCode } from '@karman/protocol';
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

  it('answers nothing before its store is recovered: a client meets a refused connection, never "not supported"', async () => {
    // A store with enough records that recovery after an unclean stop takes a while.
    const store = await MessageStore.open({ storePathRootDir: dir, mappedFileSizeCommitLog: 1024 * 1024 });
    for (let i = 0; i < 200; i++) await store.putBatch(Array.from({ length: 100 }, (_, j) => ({ topic: 'Recovering', queueId: j % 4, body: Buffer.alloc(256, i) })));
    await store.close();
    writeFileSync(join(dir, 'abort'), '1'); // as a SIGKILL leaves it: the next open recovers
    const port = await new Promise<number>((resolvePort) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolvePort(free));
      });
    });
    const codes: number[] = [];
    let started = false;
    const starting = Broker.start({ listenHost: '127.0.0.1', listenPort: port, storePathRootDir: dir, mappedFileSizeCommitLog: 1024 * 1024 }).finally(() => {
      started = true;
    });
    // Ask for a queue's max offset as fast as connections allow until the broker says it started.
    while (!started) {
      const client = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
      try {
        const response = await client.request(createRequest(RequestCode.GET_MAX_OFFSET.code, { topic: 'Recovering', queueId: 0 }), { timeoutMillis: 2_000 });
        codes.push(response.code);
      } catch {
        // refused: not listening yet, which every client treats as "try another broker"
      } finally {
        await client.close().catch(() => undefined);
      }
    }
    await using broker = await starting;
    expect(codes).not.toContain(ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code);
    expect(codes.every((code) => code === ResponseCode.SUCCESS.code)).toBe(true);
    expect(broker.port).toBe(port);
  }, 60_000);
});

