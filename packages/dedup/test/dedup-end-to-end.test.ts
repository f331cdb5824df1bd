/**
 * The dedup helper's end-to-end check, on a real cluster with real consumer processes: a producer sends
 * 10,000 orders (keys `order-<n>`), then resends 2,000 of them with the same keys and new message
 * ids; a group of two PushConsumer processes, each handler wrapped by `idempotent()` over one
 * SQLite dedup file, consumes them while one member is SIGKILLed mid-stream and restarted. The
 * side effect (one row per business id, inserted without `OR IGNORE`) must happen exactly once per
 * id. Duplicates come from every source: producer resends, the redelivery of
 * a dead member's uncommitted offsets, and the rebalance overlap while the group changes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Producer } from '@karman/producer';
import type { Message, SendResult } from '@karman/producer';
import { startCluster, uniqueName } from '@karman/testkit';
import type { DedupCounters } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/order-consumer.ts', import.meta.url));
// tsx is this package's dev dependency: resolve `--import tsx` from here.
const packageDir = fileURLToPath(new URL('..', import.meta.url));

const ORDERS = 10_000;
const RESENT = 2_000;
/** Short enough that the killed member's claims expire within the test (README: processingTimeout). */
const PROCESSING_TIMEOUT = 2_000;
/** The killed member dies on its 1,001st claimed message: well inside its share of the 10,000 orders. */
const CRASH_AFTER = 1_000;
/**
 * RocketMQ's 18 retry delay levels (1s … 2h) shrunk to milliseconds: a deferred
 * message (another member holds its claim) comes back after 300 ms, 300 ms, 500 ms, … and so
 * outlives the dead member's 2 s claims well within its 16 retries.
 */
const DELAY_LEVELS = '100ms 200ms 300ms 300ms 500ms 500ms 500ms 500ms 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s';

type Counters = DedupCounters & { claimed: number };

interface Member {
  readonly name: string;
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  ready: boolean;
  /** Queues of the test topic after the member's last rebalance. */
  queues: number;
  /** The last counters the member printed (a killed member's last 200 ms are missing). */
  counters: Counters | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: boolean;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startMember(name: string, args: Record<string, unknown>): Member {
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', fixture, JSON.stringify(args)], {
    cwd: packageDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const member: Member = {
    name,
    child,
    ready: false,
    queues: 0,
    counters: undefined,
    alive: true,
    // 'close', not 'exit': it fires after stdout is drained, so the final counters line is in.
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
  };
  void member.exited.then(() => (member.alive = false));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') member.ready = true;
    else if (line.startsWith(`rebalanced ${String(args['topic'])} `)) member.queues = Number(line.split(' ')[2]);
    else if (line.startsWith('counters ')) member.counters = JSON.parse(line.slice('counters '.length)) as Counters;
  });
  return member;
}

async function stopMember(member: Member): Promise<void> {
  if (!member.alive) return;
  member.child.stdin.end('stop\n');
  const timer = setTimeout(() => member.child.kill('SIGKILL'), 10_000);
  const { code } = await member.exited;
  clearTimeout(timer);
  expect(code, `${member.name} exit code`).toBe(0);
}

/** Poll every 50 ms until `check` holds, or fail naming `what`. */
async function waitFor(check: () => boolean, what: string, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Send concurrently, 64 in flight, keeping each result at its message's index. */
async function sendAll(producer: Producer, messages: Message[]): Promise<SendResult[]> {
  const results: SendResult[] = [];
  for (let i = 0; i < messages.length; i += 64) {
    results.push(...(await Promise.all(messages.slice(i, i + 64).map((m) => producer.send(m)))));
  }
  return results;
}

describe('idempotent consumption end to end', () => {
  it(
    '10,000 orders, 2,000 resent, a member killed and restarted mid-stream: one row per order',
    async () => {
      const started = Date.now();
      const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-e2e-'));
      dirs.push(dir);
      const effectsPath = join(dir, 'orders.sqlite');
      const orders = new Database(effectsPath, { timeout: 10_000 });
      orders.pragma('journal_mode = WAL');
      orders.exec(`
        CREATE TABLE effects (business_id TEXT PRIMARY KEY, msg_id TEXT NOT NULL, pid INTEGER NOT NULL);
        CREATE TABLE runs (business_id TEXT NOT NULL, msg_id TEXT NOT NULL, pid INTEGER NOT NULL);
        CREATE TABLE skipped (business_id TEXT NOT NULL, msg_id TEXT NOT NULL, pid INTEGER NOT NULL);
        CREATE TABLE duplicate_failures (business_id TEXT NOT NULL, msg_id TEXT NOT NULL, pid INTEGER NOT NULL, error TEXT NOT NULL);
      `);
      const count = (sql: string): number => (orders.prepare(sql).get() as { n: number }).n;

      await using cluster = await startCluster({ brokers: 2, brokerOptions: { messageDelayLevel: DELAY_LEVELS } });
      const topic = uniqueName('Orders');
      const group = uniqueName('billing');
      await cluster.createTopic(topic, { queues: 4 }); // 4 per broker: 8 queues
      const common = { namesrv: cluster.namesrvAddr, topic, group, effectsPath, dedupPath: join(dir, 'dedup.sqlite'), processingTimeout: PROCESSING_TIMEOUT };

      const members = [startMember('a', { ...common, crashAfter: CRASH_AFTER }), startMember('b', common)];
      const [a, b] = members as [Member, Member];
      await using producer = new Producer({ nameservers: cluster.namesrvAddr, group: uniqueName('orders-producer'), instanceName: uniqueName('p') });
      await producer.start();
      try {
        await waitFor(() => (a.ready && b.ready) || !a.alive || !b.alive, 'both members to start', 30_000);
        expect([a.alive, b.alive]).toEqual([true, true]);
        await waitFor(() => a.queues === 4 && b.queues === 4, 'a 4/4 split of the 8 queues', 15_000);

        // Member a kills itself on its 1,001st claim, a few seconds into the 10,000 sends; it is
        // restarted (a2) the moment it is gone, while the stream still flows.
        let rowsAtKill = -1;
        const restarted = a.exited.then((killed) => {
          rowsAtKill = count('SELECT COUNT(*) AS n FROM effects');
          const a2 = startMember('a2', common);
          members.push(a2);
          return { killed, a2, lastCountersOfA: a.counters };
        });
        const order = (n: number): Message => ({ topic, keys: `order-${n}`, body: `{"order":${n},"amount":${n % 97}}` });
        const sent = await sendAll(producer, Array.from({ length: ORDERS }, (_, n) => order(n)));
        await waitFor(() => !a.alive, `member a to kill itself on claim ${CRASH_AFTER + 1}`, 30_000);
        const { killed, a2, lastCountersOfA } = await restarted;
        expect(killed.signal).toBe('SIGKILL');
        await waitFor(() => (a2.ready && a2.queues === 4) || !a2.alive, 'the restarted member to own 4 queues', 30_000);
        expect(a2.alive).toBe(true);
        // Every fifth order again: same key (business id), new message id, as a producer retrying
        // after a timeout would send it. Half of them land on the restarted member's queues.
        const resent = await sendAll(producer, Array.from({ length: RESENT }, (_, i) => order(i * 5)));
        const allIds = [...sent, ...resent].map((r) => r.msgId);
        expect(new Set(allIds).size).toBe(ORDERS + RESENT);

        // Done when every delivery (12,000 message ids) ended as the id's one run or a skipped duplicate.
        const covered = (): number =>
          count('SELECT COUNT(*) AS n FROM (SELECT msg_id FROM effects UNION SELECT msg_id FROM skipped)');
        await waitFor(() => covered() === ORDERS + RESENT, 'every delivery to be run or skipped', 90_000);
        // Retries still in flight (deferred while the dead member's claims lived) must end as
        // skipped duplicates too: give them the claim lifetime and the longest retry delay.
        await new Promise((r) => setTimeout(r, PROCESSING_TIMEOUT + 1_000));
        await Promise.all([stopMember(b), stopMember(a2)]);

        const delivered = new Set((orders.prepare('SELECT msg_id FROM effects UNION SELECT msg_id FROM skipped').all() as Array<{ msg_id: string }>).map((r) => r.msg_id));
        expect(allIds.filter((id) => !delivered.has(id))).toEqual([]);
        const failures = orders.prepare('SELECT business_id, pid, error FROM duplicate_failures LIMIT 5').all();
        expect(failures).toEqual([]);
        expect(count('SELECT COUNT(*) AS n FROM effects')).toBe(ORDERS);
        const ids = (orders.prepare('SELECT business_id FROM effects').all() as Array<{ business_id: string }>).map((r) => r.business_id);
        const present = new Set(ids);
        expect(Array.from({ length: ORDERS }, (_, n) => `order-${n}`).filter((id) => !present.has(id))).toEqual([]);
        // The handler itself ran once per id: dedup stopped every repeat before it, not the primary key.
        expect(count('SELECT COUNT(*) AS n FROM runs')).toBe(ORDERS);
        // The kill came mid-stream, and each member (including the restarted one) did real work.
        expect(rowsAtKill).toBeGreaterThan(0);
        expect(rowsAtKill).toBeLessThan(ORDERS);
        const workOf = (m: Member): number =>
          count(`SELECT (SELECT COUNT(*) FROM effects WHERE pid = ${m.child.pid}) + (SELECT COUNT(*) FROM skipped WHERE pid = ${m.child.pid}) AS n`);
        expect(workOf(b), 'deliveries ended by b').toBeGreaterThan(0);
        expect(workOf(a2), 'deliveries ended by the restarted member').toBeGreaterThan(0);
        // The dead member's in-flight claims were still PROCESSING when the survivors got those
        // messages again: deferred (ConsumeLaterError → RECONSUME_LATER), then run once they expired.
        expect((b.counters?.deferred ?? 0) + (a2.counters?.deferred ?? 0), 'deliveries deferred by b and a2').toBeGreaterThan(0);
        // At least the 2,000 resends were acknowledged without running.
        const skippedIds = count('SELECT COUNT(DISTINCT msg_id) AS n FROM skipped');
        expect(skippedIds).toBeGreaterThanOrEqual(RESENT);

        const totals = [lastCountersOfA, b.counters, a2.counters].reduce<Record<string, number>>((sum, c) => {
          for (const [k, v] of Object.entries(c ?? {})) sum[k] = (sum[k] ?? 0) + v;
          return sum;
        }, {});
        console.info(
          `dedup e2e: ${ORDERS} orders + ${RESENT} resent in ${Date.now() - started} ms; member a killed at ${rowsAtKill} rows; ` +
            `skipped deliveries ${count('SELECT COUNT(*) AS n FROM skipped')} (${skippedIds} distinct msg ids); ` +
            `counters (a until its last report + b + a2): ${JSON.stringify(totals)}`,
        );
      } finally {
        for (const m of members) m.child.kill('SIGKILL');
        await Promise.all(members.map((m) => m.exited));
        orders.close();
      }
    },
    // Measured 12-29 s on the shared 2-core machine; the numbers are kept, with headroom.
    120_000,
  );
});
