/**
 * The durability promise of SYNC_FLUSH, end to end: a karman-broker process under load from a
 * producer (SEND_MESSAGE_V2 in concurrent loops) is killed with SIGKILL mid-stream, restarted on
 * the same store, and every message it acknowledged with SUCCESS is there: same body, same queue,
 * same queue offset, read back by its message id (VIEW_MESSAGE_BY_ID) as `queryMsgById` would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeOffsetMessageId, decodeRecord } from '@karman/protocol';
import { SMALL_STORE, runBroker, waitForLine } from './process-harness.js';
import type { RunningBroker } from './process-harness.js';

interface Acked {
  msgId: string;
  queueId: number;
  queueOffset: number;
  body: string;
}

const TOPIC = 'DurableTopic';
const QUEUES = 4;
const LOOPS = 8;

describe('karman-broker SYNC_FLUSH under SIGKILL', () => {
  let dir: string;
  const running: RunningBroker[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-broker-kill-'));
  });
  afterEach(async () => {
    for (const r of running.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged message when killed mid-stream', async () => {
    const store = join(dir, 'store');
    const first = runBroker(['--listen', '127.0.0.1:0', '--flush', 'SYNC_FLUSH', '--store', store, ...SMALL_STORE]);
    running.push(first);
    const port = (await waitForLine(first, 'karman-broker listening')).port as number;
    const producer = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
    const created = await producer.request(
      createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    );
    expect(created.code).toBe(ResponseCode.SUCCESS.code);

    const acked: Acked[] = [];
    const otherCodes = new Map<number, number>();
    let stop = false;
    const padding = 'x'.repeat(300);
    const loop = async (loopId: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const body = `loop-${loopId}-msg-${n}-${padding}`;
        const queueId = loopId % QUEUES;
        let response;
        try {
          response = await producer.request(
            createRequest(RequestCode.SEND_MESSAGE_V2.code, { a: 'DurableProducer', b: TOPIC, c: 'TBW102', d: QUEUES, e: queueId, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, Buffer.from(body)),
            { timeoutMillis: 5_000 },
          );
        } catch {
          return; // the broker is gone
        }
        if (response.code === ResponseCode.SUCCESS.code) {
          acked.push({ msgId: String(response.extFields.msgId), queueId: Number(response.extFields.queueId), queueOffset: Number(response.extFields.queueOffset), body });
        } else {
          otherCodes.set(response.code, (otherCodes.get(response.code) ?? 0) + 1);
        }
      }
    };
    const loops = Array.from({ length: LOOPS }, (_, i) => loop(i));

    // Kill while sends are in flight, once a few hundred are acknowledged (or after 4 s at most).
    const start = Date.now();
    while (acked.length < 400 && Date.now() - start < 4_000) await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(loops);
    stop = true;
    await producer.close();
    expect(acked.length, `acknowledged sends (other codes: ${JSON.stringify([...otherCodes])})`).toBeGreaterThan(50);

    const second = runBroker(['--listen', `127.0.0.1:${port}`, '--flush', 'SYNC_FLUSH', '--store', store, ...SMALL_STORE]);
    running.push(second);
    await waitForLine(second, 'karman-broker listening');
    const reader = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
    try {
      const missing: string[] = [];
      for (const message of acked) {
        const { physicalOffset } = decodeOffsetMessageId(message.msgId);
        const response = await reader.request(createRequest(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: physicalOffset }));
        if (response.code !== ResponseCode.SUCCESS.code) {
          missing.push(`${message.msgId}: ${response.code} ${response.remark ?? ''}`);
          continue;
        }
        const decoded = decodeRecord(Buffer.from(response.body ?? []), 0, { checkCrc: true });
        expect(decoded.kind).toBe('record');
        if (decoded.kind !== 'record') continue;
        expect({ topic: decoded.record.topic, queueId: decoded.record.queueId, queueOffset: decoded.record.queueOffset, body: Buffer.from(decoded.record.body).toString() }).toEqual({
          topic: TOPIC,
          queueId: message.queueId,
          queueOffset: message.queueOffset,
          body: message.body,
        });
      }
      expect(missing).toEqual([]);
      // Each queue's max offset covers every acknowledged offset: the consume queues were rebuilt too.
      for (let queueId = 0; queueId < QUEUES; queueId++) {
        const offsets = acked.filter((m) => m.queueId === queueId).map((m) => m.queueOffset);
        if (offsets.length === 0) continue;
        const max = await reader.request(createRequest(RequestCode.GET_MAX_OFFSET.code, { topic: TOPIC, queueId }));
        expect(Number(max.extFields.offset)).toBeGreaterThan(Math.max(...offsets));
      }
    } finally {
      await reader.close();
    }
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
