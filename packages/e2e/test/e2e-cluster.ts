/**
 * The end-to-end suite's cluster and its bookkeeping: two nameservers and two broker
 * groups (broker-a, broker-b), each a SYNC_FLUSH master and a slave, as real processes from
 * `@karman/testkit`; producers and a consumer group of three as child processes (fixtures/). Every
 * interval a scenario waits on (rebalance, offset commit, heartbeat, route poll, broker
 * registration, retry delays) is shrunk to milliseconds so a scenario takes seconds.
 *
 * What the scenarios check comes from files, never from a process's own opinion: producers append
 * each acknowledged key to `acked-*.log`, consumers append each delivery (`d`) and each run of the
 * business handler behind the dedup helper (`p`) to `record-*.log` (formats in the fixtures).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { LoggedProcess, startProcessCluster } from '@karman/testkit';
import type { LogLine, ProcessCluster } from '@karman/testkit';
import type { KeyedProducerArgs } from './fixtures/keyed-producer.js';
import type { RecordingConsumerArgs } from './fixtures/recording-consumer.js';

/** Messages per scenario: enough for a fault to land mid-stream, few enough for a 2-core CI box. */
export const MESSAGES = 2_000;
export const TOPIC = 'E2eOrders';
const GROUP = 'e2e-consumers';
/** Queues per master: 8 in all, shared by the group of three. */
const QUEUES_PER_BROKER = 4;
export const BROKERS = ['broker-a', 'broker-b'] as const;
/** How long a dead member's dedup claim blocks others (the dedup helper's default is 60 s). */
const PROCESSING_TIMEOUT = 2_000;

/** Scenario e: a nameserver forgets a broker silent for 2 s (RocketMQ: 120 s, checked every 10 s). */
export const FAST_EXPIRY_NAMESERVER_ARGS: readonly string[] = ['--set', 'brokerExpiredMillis=2000', '--set', 'scanNotActiveBrokerInterval=200'];

/**
 * RocketMQ's 18 retry delays (1s … 2h) shrunk: a delivery dedup defers (another
 * member holds the id's claim) comes back within a second, and outlives a dead member's 2 s claim
 * well within its 16 retries.
 */
const DELAY_LEVELS = '100ms 200ms 300ms 300ms 500ms 500ms 500ms 500ms 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s';

export const BROKER_ARGS: readonly string[] = [
  '--set', 'registerNameServerPeriod=300',
  '--set', 'pullRequestHoldCheckInterval=100',
  '--set', 'flushConsumerOffsetInterval=200',
  '--set', `messageDelayLevel=${DELAY_LEVELS}`,
  '--set', 'haSendHeartbeatInterval=500',
  '--set', 'haReconnectInterval=100',
  '--set', 'slaveSyncInterval=500',
  // Consumers may read from the slave while its master is down (scenario c).
  '--set', 'slaveReadEnable=true',
];

/** SYNC_FLUSH: an acknowledged message is on disk, so a master's SIGKILL loses none (broker README). */
const MASTER_ARGS: readonly string[] = ['--flush', 'SYNC_FLUSH'];

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
// tsx is this package's dev dependency: children resolve `--import tsx` from here.
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Totals read from the files, and the verdict's inputs. */
export interface E2eTally {
  acked: number;
  deliveries: number;
  deliveredKeys: number;
  processed: number;
  duplicateProcessing: string[];
  lost: string[];
  undelivered: string[];
}

/** A running scenario: the cluster, its children and its record folder. */
export class E2eRun implements AsyncDisposable {
  readonly producers: LoggedProcess[] = [];
  readonly consumers: LoggedProcess[] = [];
  private readonly recordPaths = new Map<LoggedProcess, string>();
  private producerSeq = 0;
  private consumerSeq = 0;
  private readonly startedAt = Date.now();

  private constructor(
    readonly cluster: ProcessCluster,
    /** Record files and the shared dedup database; removed on dispose. */
    readonly dir: string,
  ) {}

  static async start(options: { nameserverArgs?: readonly string[] } = {}): Promise<E2eRun> {
    const dir = mkdtempSync(join(tmpdir(), 'karman-e2e-'));
    let cluster: ProcessCluster;
    try {
      cluster = await startProcessCluster({
        nameservers: 2,
        brokerNames: BROKERS,
        slavesPerGroup: 1,
        nameserverArgs: options.nameserverArgs ?? [],
        brokerArgs: BROKER_ARGS,
        masterArgs: MASTER_ARGS,
        startTimeoutMillis: 30_000,
      });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const run = new E2eRun(cluster, dir);
    try {
      await cluster.createTopic(TOPIC, { queues: QUEUES_PER_BROKER });
    } catch (error) {
      await run.close();
      throw error;
    }
    return run;
  }

  /** Start a producer process sending keys `<prefix>-<from>` ... (see fixtures/keyed-producer.ts). */
  async startProducer(options: { from?: number; count?: number; prefix?: string; concurrency?: number; pauseMillis?: number } = {}): Promise<LoggedProcess> {
    const seq = this.producerSeq++;
    const args: KeyedProducerArgs = {
      nameservers: this.cluster.namesrvAddrs,
      topic: TOPIC,
      group: 'e2e-producers',
      prefix: options.prefix ?? 'order',
      from: options.from ?? 0,
      count: options.count ?? MESSAGES,
      concurrency: options.concurrency ?? 8,
      // 5 to 10 s for 2,000 messages on this machine: long enough for a fault to land mid-stream.
      pauseMillis: options.pauseMillis ?? 5,
      giveUpMillis: 20_000,
      ackedPath: join(this.dir, `acked-${seq}.log`),
    };
    const child = this.spawn(`producer ${seq}`, 'keyed-producer.ts', args);
    this.producers.push(child);
    await child.waitForLine((l) => l.msg === 'ready', 'producer ready', 30_000);
    return child;
  }

  /** Start a member of the consumer group (see fixtures/recording-consumer.ts). */
  startConsumer(options: { crashAfter?: number } = {}): LoggedProcess {
    const seq = this.consumerSeq++;
    const args: RecordingConsumerArgs = {
      nameservers: this.cluster.namesrvAddrs,
      topic: TOPIC,
      group: GROUP,
      dedupPath: join(this.dir, 'dedup.sqlite'),
      recordPath: join(this.dir, `record-${seq}.log`),
      processingTimeout: PROCESSING_TIMEOUT,
      ...(options.crashAfter === undefined ? {} : { crashAfter: options.crashAfter }),
    };
    const child = this.spawn(`consumer ${seq}`, 'recording-consumer.ts', args);
    this.consumers.push(child);
    this.recordPaths.set(child, args.recordPath);
    return child;
  }

  /** Start `count` members and wait until the running ones share all 8 queues, each holding some. */
  async startConsumers(count = 3): Promise<LoggedProcess[]> {
    const started = Array.from({ length: count }, () => this.startConsumer());
    await Promise.all(started.map((c) => c.waitForLine((l) => l.msg === 'ready', 'consumer ready', 30_000)));
    await this.waitForBalancedGroup();
    return started;
  }

  /** Wait until the running members' latest rebalances cover all queues, each member holding some. */
  async waitForBalancedGroup(timeoutMillis = 20_000): Promise<void> {
    const total = QUEUES_PER_BROKER * BROKERS.length;
    await waitFor(
      () => {
        const alive = this.consumers.filter((c) => c.running);
        const held = alive.map((c) => (lastLine(c, (l) => l.msg === 'rebalanced' && l.topic === TOPIC)?.queues as number | undefined) ?? 0);
        return held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === total;
      },
      `the consumer group to share the ${total} queues`,
      timeoutMillis,
    );
  }

  /** Acknowledged so far, from the producers' progress lines. */
  ackedSoFar(): number {
    return this.producers.reduce((sum, p) => sum + ((lastLine(p, (l) => l.msg === 'progress' || l.msg === 'done')?.acked as number | undefined) ?? 0), 0);
  }

  /** Wait until the producers together have `n` acknowledged sends: the moment to inject a fault. */
  async waitForAcked(n: number, timeoutMillis = 20_000): Promise<void> {
    await waitFor(() => this.ackedSoFar() >= n, `${n} acknowledged sends`, timeoutMillis);
  }

  /** Wait for a producer's `done` line, and return it. */
  async producerDone(producer: LoggedProcess, timeoutMillis = 40_000): Promise<LogLine> {
    return producer.waitForLine((l) => l.msg === 'done', 'the producer to finish', timeoutMillis);
  }

  /** Read every record file now. */
  tally(): E2eTally {
    const files = readdirSync(this.dir);
    const ackedKeys = new Set<string>();
    for (const file of files.filter((f) => f.startsWith('acked-'))) {
      for (const line of lines(join(this.dir, file))) ackedKeys.add(line.split(' ')[0]!);
    }
    const delivered = new Map<string, number>();
    const processed = new Map<string, number>();
    let deliveries = 0;
    let runs = 0;
    for (const file of files.filter((f) => f.startsWith('record-'))) {
      for (const line of lines(join(this.dir, file))) {
        const [kind, key] = line.split(' ') as [string, string];
        if (kind === 'd') {
          deliveries += 1;
          delivered.set(key, (delivered.get(key) ?? 0) + 1);
        } else if (kind === 'p') {
          runs += 1;
          processed.set(key, (processed.get(key) ?? 0) + 1);
        }
      }
    }
    return {
      acked: ackedKeys.size,
      deliveries,
      deliveredKeys: delivered.size,
      processed: runs,
      duplicateProcessing: [...processed].filter(([, n]) => n > 1).map(([k, n]) => `${k}×${n}`),
      lost: [...ackedKeys].filter((k) => !processed.has(k)),
      undelivered: [...ackedKeys].filter((k) => !delivered.has(k)),
    };
  }

  /** Keys that `members` recorded as delivered (`d`) or processed (`p`). */
  keysRecordedBy(members: readonly LoggedProcess[], kind: 'd' | 'p'): Set<string> {
    const keys = new Set<string>();
    for (const member of members) {
      const path = this.recordPaths.get(member);
      if (path === undefined || !readdirSync(this.dir).includes(basename(path))) continue;
      for (const line of lines(path)) if (line.startsWith(`${kind} `)) keys.add(line.split(' ')[1]!);
    }
    return keys;
  }

  /** Wait until every acknowledged key has been processed (the group caught up). */
  async waitForAllProcessed(timeoutMillis = 30_000): Promise<void> {
    let last: E2eTally | undefined;
    await waitFor(
      () => {
        last = this.tally();
        return last.lost.length === 0;
      },
      'every acknowledged message to be processed',
      timeoutMillis,
      () => `${last?.lost.length ?? '?'} of ${last?.acked ?? '?'} acknowledged keys not processed (first: ${last?.lost.slice(0, 5).join(', ') ?? ''})`,
    );
  }

  /**
   * The scenario's verdict: once the group caught up and settled, stop the consumers gracefully,
   * print one summary line, and assert no acknowledged message was lost, each was delivered at
   * least once, and dedup let none be processed twice. `faultFree` scenarios (no broker or consumer
   * lost) must also redeliver nothing beyond the producer's own resends: every delivery is counted.
   */
  async verify(scenario: string, expectedAcked: number, options: { faultFree?: boolean } = {}): Promise<E2eTally> {
    await this.waitForAllProcessed();
    // Deferred deliveries (another member held the claim) still in the retry topic must end as
    // duplicates skipped by dedup, not as second runs: give them a claim lifetime to come back.
    await new Promise((r) => setTimeout(r, PROCESSING_TIMEOUT + 500));
    await Promise.all(this.consumers.map((c) => c.stop()));
    const tally = this.tally();
    const producerRetries = this.producers.reduce((sum, p) => sum + ((lastLine(p, (l) => l.msg === 'done')?.retries as number | undefined) ?? 0), 0);
    console.log(
      `e2e ${scenario}: acked ${tally.acked}, producer resends ${producerRetries}, deliveries ${tally.deliveries} ` +
        `(${tally.deliveries - tally.deliveredKeys} redelivered), processed ${tally.processed}, ` +
        `duplicate processing ${tally.duplicateProcessing.length}, lost ${tally.lost.length}, in ${Date.now() - this.startedAt} ms`,
    );
    expect(tally.acked, 'acknowledged keys').toBe(expectedAcked);
    expect(tally.lost, 'acknowledged keys never processed').toEqual([]);
    expect(tally.undelivered, 'acknowledged keys never delivered').toEqual([]);
    expect(tally.duplicateProcessing, 'keys the business handler ran more than once').toEqual([]);
    expect(tally.deliveries).toBeGreaterThanOrEqual(tally.acked);
    if (options.faultFree) expect(tally.deliveries - tally.deliveredKeys, 'redeliveries with no broker or consumer lost (beyond producer resends)').toBeLessThanOrEqual(producerRetries);
    return tally;
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers, ...this.consumers].map((c) => c.kill()));
    await this.cluster.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private spawn(name: string, fixture: string, args: object): LoggedProcess {
    return spawnFixture(name, join(fixtures, fixture), args);
  }
}

/**
 * Run a fixture (a .ts file) as a child process from source, its arguments as one JSON string;
 * with `launcher` (e.g. `ip netns exec NS`) it runs through it.
 */
export function spawnFixture(name: string, path: string, args: object, launcher?: readonly string[]): LoggedProcess {
  return LoggedProcess.spawn(name, ['--conditions=@karman/source', '--import', 'tsx', path, JSON.stringify(args)], { cwd: packageDir, launcher });
}

/** The latest line `match` accepts. */
export function lastLine(process: LoggedProcess, match: (line: LogLine) => boolean): LogLine | undefined {
  return process.lines.findLast(match);
}

/** Poll every 100 ms until `check` holds, or fail naming `what` (and `detail()` when given). */
export async function waitFor(check: () => boolean, what: string, timeoutMillis: number, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}
