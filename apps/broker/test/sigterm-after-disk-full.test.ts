/**
 * karman-broker as a real process on a real 64 MiB tmpfs: a full disk refuses sends, SIGTERM then
 * stops it cleanly (exit 0, no abort file), the next start, on a disk still full, recovers "after
 * a clean stop", and sends are taken again once space is freed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
// The broker package's scenario helpers: one tmpfs fixture, one way to write a send header.
import { sendFields } from '../../../packages/broker/test/send-helpers.js';
import { mountTmpfs, tmpfsUnavailable } from '../../../packages/broker/test/tmpfs-fixture.js';
import { SMALL_STORE, runBroker, waitForLine } from './process-harness.js';
import type { RunningBroker } from './process-harness.js';

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(store: string): Promise<{ running: RunningBroker; client: RemotingClient }> {
  const running = runBroker(['--listen', '127.0.0.1:0', '--store', store, ...SMALL_STORE, '--set', 'appendRetryInterval=100']);
  const listening = await waitForLine(running, 'karman-broker listening');
  return { running, client: new RemotingClient(`tcp://127.0.0.1:${listening.port as number}`, { reconnect: false }) };
}

async function stop(b: { running: RunningBroker; client: RemotingClient }): Promise<void> {
  await b.client.close();
  b.running.child.kill('SIGTERM');
  expect(await b.running.exited).toEqual({ code: 0, signal: null });
}

// Skipped only where no tmpfs can be mounted (not root); the fixture fails instead under CI.
describe.skipIf(tmpfsUnavailable !== undefined)('karman-broker on a full disk', () => {
  it('stops cleanly on SIGTERM after sends were refused, restarts on the still-full disk as after a clean stop, and takes sends once space is freed', async () => {
    await using disk = mountTmpfs(64);
    const store = join(disk.dir, 'store');
    const send = (c: RemotingClient, body: string) => c.request(createRequest(RequestCode.SEND_MESSAGE.code, sendFields('FullTopic'), Buffer.from(body)));
    const first = await start(store);
    try {
      const created = await first.client.request(
        createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: 'FullTopic', defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
      );
      expect(created.code).toBe(ResponseCode.SUCCESS.code);
      expect((await send(first.client, 'before')).code).toBe(ResponseCode.SUCCESS.code);
      disk.fill();
      const refused = await until(async () => {
        const r = await send(first.client, 'x'.repeat(2000));
        return r.code === ResponseCode.SUCCESS.code ? undefined : r;
      }, 'a refused send');
      expect(refused.code).toBe(ResponseCode.SERVICE_NOT_AVAILABLE.code);
    } finally {
      await stop(first);
    }
    expect(existsSync(join(store, 'abort'))).toBe(false);

    const second = await start(store);
    try {
      const recovery = second.running.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('recovery ('));
      expect(recovery?.msg).toMatch(/^recovery \(after a clean stop\)/);
      disk.free();
      await until(async () => ((await send(second.client, 'after')).code === ResponseCode.SUCCESS.code ? true : undefined), 'a send after space was freed');
    } finally {
      await stop(second);
    }
  });
});
