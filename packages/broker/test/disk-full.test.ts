/**
 * A broker whose disk fills up, on a real 64 MiB tmpfs filled by another program: sends are
 * refused cleanly and resume by themselves once space is free, a refused send is never stored,
 * a clean stop after the episode is recovered as a clean stop, config writes that fail leave
 * nothing behind and fail no read, and a forced clean says per group what it dropped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';
import type { BrokerOptions } from '../src/broker.js';
import { pullFields } from './pull-fixture.js';
import { createTopic, readQueue, send, waitFor } from './send-helpers.js';
import { mountTmpfs, tmpfsUnavailable } from './tmpfs-fixture.js';
import type { Tmpfs } from './tmpfs-fixture.js';

interface Logged {
  level: string;
  message: string;
}

function collectLogs(): { lines: Logged[]; logger: (level: string, message: string) => void } {
  const lines: Logged[] = [];
  return { lines, logger: (level, message) => lines.push({ level, message }) };
}

/**
 * Put the commit log's end 100 bytes past a 4 KiB page boundary, so the page being written has
 * room for a few records once the disk is full (a full tmpfs still takes writes into pages it has
 * already allocated): that is how a group of sends gets written in part.
 */
async function alignToPage(b: TestBroker, topic: string): Promise<void> {
  const store = b.broker.context.store;
  const probe = await store.put({ topic, queueId: 0, body: Buffer.alloc(1, 0x61) });
  const overhead = probe.wroteBytes - 1;
  const gap = (4096 - (store.maxPhyOffset % 4096) + 100) % 4096;
  const body = gap - overhead > 0 ? gap - overhead : gap + 4096 - overhead;
  const pad = await store.put({ topic, queueId: 0, body: Buffer.alloc(body, 0x61) });
  expect(pad.status).toBe('PUT_OK');
  expect(store.maxPhyOffset % 4096).toBe(100);
}

/** Send `count` messages concurrently, `burst` at a time; returns each body's answer. */
async function sendBursts(b: TestBroker, topic: string, count: number, burst: number, prefix: string): Promise<Map<string, RemotingCommand>> {
  const answers = new Map<string, RemotingCommand>();
  for (let i = 0; i < count; i += burst) {
    const bodies = Array.from({ length: Math.min(burst, count - i) }, (_, k) => `${prefix}-${i + k}`.padEnd(700, '.'));
    const replies = await Promise.all(bodies.map((body) => send(b, topic, Buffer.from(body))));
    bodies.forEach((body, k) => answers.set(body, replies[k]!));
  }
  return answers;
}

function bodiesOf(records: Array<{ body: Uint8Array }>): string[] {
  return records.map((r) => Buffer.from(r.body).toString());
}

async function metrics(b: TestBroker): Promise<string> {
  const res = await fetch(`http://${b.broker.address}/metrics`);
  return res.text();
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`karman_${name}{`)) continue;
    const inside = line.slice(line.indexOf('{') + 1, line.indexOf('}'));
    if (want.every((w) => inside.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** A broker whose store is on `disk`, logging into `logs`, with 1 MiB segments and 100 ms retries. */
function startOn(disk: Tmpfs, logs: ReturnType<typeof collectLogs>, options: BrokerOptions = {}): Promise<TestBroker> {
  return startTestBroker({
    mappedFileSizeCommitLog: 1024 * 1024,
    mappedFileSizeConsumeQueue: 20 * 1000,
    appendRetryInterval: 100,
    flushConsumerOffsetInterval: 100,
    storePathRootDir: join(disk.dir, 'store'),
    logger: logs.logger,
    ...options,
  });
}

// Skipped only where no tmpfs can be mounted (not root); tmpfs-fixture fails instead under CI.
describe.skipIf(tmpfsUnavailable !== undefined)('disk full', () => {
  it('refuses sends while the disk is full and takes them again by itself once space is freed, without a restart', async () => {
    await using disk = mountTmpfs(64);
    const logs = collectLogs();
    await using b = await startOn(disk, logs);
    const topic = uniqueName('full_resume');
    await createTopic(b, topic, 1);
    expect((await send(b, topic, Buffer.from('before'))).code).toBe(ResponseCode.SUCCESS.code);

    disk.fill();
    const refused = await waitFor(
      async () => {
        const r = await send(b, topic, Buffer.alloc(2000, 0x62));
        return r.code === ResponseCode.SUCCESS.code ? undefined : r;
      },
      5000,
      'a send refused on the full disk',
    );
    expect(refused.code).toBe(ResponseCode.SERVICE_NOT_AVAILABLE.code);
    expect(refused.remark).toMatch(/disk full/);

    disk.free();
    const resumedAt = Date.now();
    await waitFor(async () => ((await send(b, topic, Buffer.from('after'))).code === ResponseCode.SUCCESS.code ? true : undefined), 3000, 'a send accepted after the disk was freed');
    expect(Date.now() - resumedAt).toBeLessThan(2000);
    expect(bodiesOf(await readQueue(b, topic, 0)).filter((s) => s === 'before' || s === 'after')).toEqual(['before', 'after']);
    expect(logs.lines.some((l) => /appends resumed/.test(l.message))).toBe(true);
  });

  it('never stores a send it answered as failed, also not after a restart', async () => {
    await using disk = mountTmpfs(64);
    await using b = await startOn(disk, collectLogs(), { appendRetryInterval: 10 });
    const topic = uniqueName('full_refused');
    await createTopic(b, topic, 1);
    const before = await sendBursts(b, topic, 20, 20, 'pre');
    expect([...before.values()].every((r) => r.code === ResponseCode.SUCCESS.code)).toBe(true);
    await alignToPage(b, topic);

    disk.fill();
    const answers = await sendBursts(b, topic, 200, 20, 'full');
    const refused = [...answers].filter(([, r]) => r.code !== ResponseCode.SUCCESS.code);
    expect(refused.length).toBeGreaterThan(0);
    const accepted = new Set([...before.keys(), ...[...answers].filter(([, r]) => r.code === ResponseCode.SUCCESS.code).map(([body]) => body)]);

    const servedNow = bodiesOf(await readQueue(b, topic, 0)).filter((s) => s.startsWith('pre-') || s.startsWith('full-'));
    expect(servedNow.filter((s) => !accepted.has(s))).toEqual([]);

    disk.free();
    await b.restart();
    const servedAfterRestart = bodiesOf(await readQueue(b, topic, 0)).filter((s) => s.startsWith('pre-') || s.startsWith('full-'));
    expect(servedAfterRestart.filter((s) => !accepted.has(s))).toEqual([]);
    expect(new Set(servedAfterRestart)).toEqual(accepted);
  });

  it('recovers a clean stop after a full-disk episode as a clean stop, and starts on a disk that is still full', async () => {
    await using disk = mountTmpfs(64);
    const logs = collectLogs();
    await using b = await startOn(disk, logs);
    const topic = uniqueName('full_stop');
    await createTopic(b, topic, 1);
    await sendBursts(b, topic, 10, 10, 'pre');
    disk.fill();
    const answers = await sendBursts(b, topic, 60, 20, 'full');
    expect([...answers.values()].some((r) => r.code !== ResponseCode.SUCCESS.code)).toBe(true);

    // What karman-broker does on SIGTERM: Broker.close().
    await b.restart();
    expect(b.broker.context.store.recovery.abnormal).toBe(false);
    expect(logs.lines.some((l) => /recovery \(after a clean stop\)/.test(l.message))).toBe(true);
    expect(logs.lines.some((l) => /recovery \(after a crash\)/.test(l.message))).toBe(false);

    disk.free();
    await waitFor(async () => ((await send(b, topic, Buffer.from('after'))).code === ResponseCode.SUCCESS.code ? true : undefined), 3000, 'a send after the restart');
  });

  it("serves a new group's first pull while its config cannot be written, leaves no .tmp behind, and writes it once space returns", async () => {
    await using disk = mountTmpfs(64);
    const logs = collectLogs();
    const root = join(disk.dir, 'store');
    await using b = await startOn(disk, logs);
    const topic = uniqueName('full_cfg');
    const group = uniqueName('full_cfg_group');
    await createTopic(b, topic, 1);
    expect((await send(b, topic, Buffer.from('one'))).code).toBe(ResponseCode.SUCCESS.code);

    disk.fill();
    const pull = await b.request(RequestCode.PULL_MESSAGE.code, pullFields(group, topic, 0, 0, { suspend: false }));
    expect(pull.code, pull.remark).toBe(ResponseCode.SUCCESS.code);
    const configDir = join(root, 'config');
    const leftovers = readdirSync(configDir).filter((f) => f.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
    expect(b.broker.context.groups.get(group)).toBeDefined();
    expect(logs.lines.some((l) => l.level === 'error' && /subscriptionGroup\.json/.test(l.message))).toBe(true);
    expect(sample(await metrics(b), 'broker_config_write_failures_total', { file: 'subscriptionGroup.json' })).toBeGreaterThan(0);

    disk.free();
    const file = join(configDir, 'subscriptionGroup.json');
    await waitFor(() => (existsSync(file) && readFileSync(file, 'utf8').includes(group) ? true : undefined), 3000, 'the group written once space returned');
    expect(readdirSync(configDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(statSync(file).size).toBeGreaterThan(0);
  });

  it('says per consumer group how many unconsumed messages a forced clean dropped, in the log and in /metrics', async () => {
    await using disk = mountTmpfs(64);
    const logs = collectLogs();
    await using b = await startOn(disk, logs);
    const store = b.broker.context.store;
    const topic = uniqueName('full_forced');
    const behind = uniqueName('g_behind');
    const ahead = uniqueName('g_ahead');
    await createTopic(b, topic, 1);
    const body = Buffer.alloc(900, 0x63);
    let n = 0;
    while (store.maxPhyOffset < 5 * 1024 * 1024) {
      const r = await store.put({ topic, queueId: 0, body });
      expect(r.status).toBe('PUT_OK');
      n++;
    }
    b.broker.context.offsets.commit(behind, topic, 0, 10);
    b.broker.context.offsets.commit(ahead, topic, 0, n);

    disk.fillTo(92);
    expect(disk.usedPercent()).toBeGreaterThan(90);
    const result = await store.cleanExpiredFiles();
    expect(result.deletedFiles).toBeGreaterThan(0);
    const min = store.getMinOffsetInQueue(topic, 0);
    expect(min).toBeGreaterThan(10);

    const line = logs.lines.find((l) => l.level === 'warn' && l.message.includes(behind));
    expect(line?.message).toMatch(new RegExp(`${behind}.*${min - 10} unconsumed`));
    expect(logs.lines.some((l) => l.message.includes(ahead) && /unconsumed/.test(l.message))).toBe(false);
    const text = await metrics(b);
    expect(sample(text, 'store_forced_clean_dropped_messages_total', { group: behind, topic })).toBe(min - 10);
    expect(sample(text, 'store_forced_clean_dropped_messages_total', { group: ahead, topic }) ?? 0).toBe(0);
    expect(sample(text, 'store_retention_deleted_messages_total', { topic, cause: 'forced' })).toBe(min);
  });
});
