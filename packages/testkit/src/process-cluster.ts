/**
 * A Karman cluster of real processes for cross-process tests: the
 * karman-nameserver and karman-broker binaries run from source (tsx and the `@karman/source`
 * condition, so no build is needed) on ephemeral ports with temporary folders. Their pino JSON log
 * lines are read to learn the bound ports. Any member (nameserver, master or slave) can be stopped
 * (SIGTERM), killed (SIGKILL), paused (SIGSTOP) and resumed (SIGCONT), and started again on the
 * same port and store; several nameservers and master/slave groups are options. By default every
 * member listens on 127.0.0.1; `placement` puts a member on another address and starts it through a
 * launcher (e.g. `ip netns exec NS`, so each member can live in its own network namespace).
 * `await using cluster = await startProcessCluster()` kills whatever is left and removes the folders.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, KarmanError, RemotingClient } from '@karman/protocol';
import { createTopicOn, waitForRouteOn } from './admin-requests.js';

/** The monorepo's `apps/` folder, where both binaries live (this file is packages/testkit/src). */
const DEFAULT_APPS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../apps');

/** Small segment and index sizes so a test store stays a few MiB. */
export const SMALL_STORE_ARGS: readonly string[] = [
  '--set', 'mappedFileSizeCommitLog=4194304',
  '--set', 'mappedFileSizeConsumeQueue=200000',
  '--set', 'maxHashSlotNum=10000',
  '--set', 'maxIndexNum=40000',
  '--set', 'cleanResourceInterval=0',
];

/** What a finished command-line run gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `karman-admin <args>` as a user runs it: a child process, from source (tsx and the `@karman/source` condition). */
export function runKarmanAdmin(args: readonly string[], appsDir = DEFAULT_APPS_DIR): Promise<CliResult> {
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: join(appsDir, 'admin'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolveRun) => child.on('close', (code) => resolveRun({ code, stdout, stderr })));
}

/** One parsed stdout line: pino's JSON, or `{ text }` for a line that is not JSON. */
export type LogLine = Record<string, unknown>;

/**
 * A child process whose stdout is JSON lines. Keeps every line so a test can wait for one that
 * has already arrived, and stderr for error messages.
 */
export class LoggedProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderrText = '';
  private readonly waiters = new Set<() => void>();
  private isPaused = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() === '') continue;
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ text: line });
        }
      }
      this.wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      // Keep the tail only: a chatty child must not grow the test's memory without bound.
      this.stderrText = (this.stderrText + chunk.toString('utf8')).slice(-20_000);
    });
    this.exited = new Promise((resolveExit) =>
      child.on('exit', (code, signal) => {
        this.wake();
        resolveExit({ code, signal });
      }),
    );
  }

  /**
   * Spawn `node args...` in `cwd` with stdout and stderr piped. With `launcher` (e.g. `['ip',
   * 'netns', 'exec', 'NS']`), `launcher... node args...` runs instead; the launcher must exec node in
   * place (as `ip netns exec` and `nsenter` do) so signals reach node itself.
   */
  static spawn(name: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: boolean; launcher?: readonly string[] }): LoggedProcess {
    const [command, ...argv] = [...(options.launcher ?? []), process.execPath, ...args] as [string, ...string[]];
    const child = spawn(command, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    return new LoggedProcess(name, child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stderr(): string {
    return this.stderrText;
  }

  /**
   * The first line (already seen or still to come) that `match` accepts. Rejects when the process
   * exits first or nothing matches within `timeoutMillis`, quoting stderr so the cause is visible.
   */
  async waitForLine(match: (line: LogLine) => boolean, what: string, timeoutMillis = 15_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const line = this.lines.find(match);
      if (line) return line;
      if (!this.running) throw new KarmanError('PROCESS_EXITED', `${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${this.stderr()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new KarmanError('PROCESS_TIMEOUT', `${this.name}: ${what} did not come within ${timeoutMillis} ms; stderr: ${this.stderr()}`);
      await new Promise<void>((wake) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          wake();
        };
        const timer = setTimeout(done, Math.min(left, 1_000));
        this.waiters.add(done);
      });
    }
  }

  /** True between `pause()` and `resume()`: the process exists but runs no code. */
  get paused(): boolean {
    return this.isPaused && this.running;
  }

  /**
   * SIGSTOP: the process keeps its sockets open but answers nothing, as a machine stalled by a
   * long GC pause or a frozen VM looks to its peers; unlike a kill, no connection is closed.
   */
  pause(): void {
    if (!this.running || this.isPaused) return;
    this.child.kill('SIGSTOP');
    this.isPaused = true;
  }

  /** SIGCONT: a paused process carries on where it stopped, with whatever piled up meanwhile. */
  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    if (this.running) this.child.kill('SIGCONT');
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMillis`. A paused process is resumed so it can act on the SIGTERM. */
  async stop(graceMillis = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    this.resume();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMillis);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A cluster member, as `placement` is asked about it. */
export type ClusterMember = { kind: 'nameserver'; index: number } | { kind: 'broker'; brokerName: string; brokerId: number };

/** Where a member runs: the address it listens on (and a broker advertises), how it is started, its own flags. */
export interface MemberPlacement {
  /** IPv4 address to listen on, reachable from the test process and the other members. */
  host: string;
  /** Command that runs `node ...` in place (see `LoggedProcess.spawn`); none runs node directly. */
  launcher?: readonly string[];
  /** Flags for this member only, after every other (e.g. `['--role', 'SYNC_MASTER']` for one master). */
  args?: readonly string[];
}

export interface ProcessClusterOptions {
  /** Extra karman-nameserver flags (e.g. `['--set', 'scanNotActiveBrokerInterval=1000']`). */
  nameserverArgs?: readonly string[];
  /** Extra karman-broker flags for every broker, after the cluster's own; `--set` here wins over SMALL_STORE_ARGS. */
  brokerArgs?: readonly string[];
  /** Extra flags for masters only, after `brokerArgs` (e.g. `['--flush', 'SYNC_FLUSH']`). */
  masterArgs?: readonly string[];
  /** Extra flags for slaves only, after `brokerArgs`. */
  slaveArgs?: readonly string[];
  /** Broker group names, each with a master (['broker-a']). */
  brokerNames?: readonly string[];
  /** Nameservers to start (1); every broker registers with all of them. */
  nameservers?: number;
  /**
   * Slaves in each broker group (0): brokerId 1, 2, ... with role SLAVE and the group's name. A
   * record gives each group its own count (`{ 'broker-a': 1 }`); groups it does not name get none.
   */
  slavesPerGroup?: number | Readonly<Record<string, number>>;
  /** The monorepo's apps folder (found from this file). */
  appsDir?: string;
  /** How long a process may take to log that it listens (20 s: tsx compiles on first start). */
  startTimeoutMillis?: number;
  /** Each member's address, launcher and own flags (every member on 127.0.0.1, run directly, no extra flags). */
  placement?: (member: ClusterMember) => MemberPlacement;
}

interface MemberSlot {
  host: string;
  launcher: readonly string[] | undefined;
  args: readonly string[];
  port: number;
  process: LoggedProcess | undefined;
}

interface BrokerProcessSlot extends MemberSlot {
  brokerName: string;
  brokerId: number;
  storeDir: string;
}

/** Nameserver and broker processes (on 127.0.0.1 unless placed elsewhere); see the file comment. */
export class ProcessCluster implements AsyncDisposable {
  private readonly nameserverSlots: MemberSlot[] = [];
  private readonly brokerSlots: BrokerProcessSlot[] = [];
  private readonly admin = new Map<string, RemotingClient>();
  private readonly appsDir: string;
  private readonly startTimeoutMillis: number;

  private constructor(
    /** Temporary folder holding every store; removed on close. */
    readonly root: string,
    private readonly options: ProcessClusterOptions,
  ) {
    this.appsDir = options.appsDir ?? DEFAULT_APPS_DIR;
    this.startTimeoutMillis = options.startTimeoutMillis ?? 20_000;
  }

  static async start(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const nameservers = options.nameservers ?? 1;
    const slavesOf = (brokerName: string): number => (typeof options.slavesPerGroup === 'object' ? (options.slavesPerGroup[brokerName] ?? 0) : (options.slavesPerGroup ?? 0));
    if (!Number.isInteger(nameservers) || nameservers < 1) throw new InvalidArgumentError(`nameservers must be a whole number ≥ 1, got ${nameservers}`);
    for (const brokerName of options.brokerNames ?? ['broker-a']) {
      const slaves = slavesOf(brokerName);
      if (!Number.isInteger(slaves) || slaves < 0) throw new InvalidArgumentError(`slavesPerGroup must be a whole number ≥ 0 (for ${brokerName}), got ${slaves}`);
    }
    const cluster = new ProcessCluster(mkdtempSync(join(tmpdir(), 'karman-process-cluster-')), options);
    try {
      for (let index = 0; index < nameservers; index++) cluster.nameserverSlots.push({ ...cluster.place({ kind: 'nameserver', index }), port: 0, process: undefined });
      // Ports are learned from each nameserver's log; brokers need them all before they start.
      await Promise.all(cluster.nameserverSlots.map((_, index) => cluster.startNameServer(index)));
      for (const brokerName of options.brokerNames ?? ['broker-a']) {
        for (let brokerId = 0; brokerId <= slavesOf(brokerName); brokerId++) {
          // A master keeps the folder name it always had; slaves get `-<brokerId>`.
          const storeDir = join(cluster.root, brokerId === 0 ? brokerName : `${brokerName}-${brokerId}`);
          cluster.brokerSlots.push({ ...cluster.place({ kind: 'broker', brokerName, brokerId }), brokerName, brokerId, port: 0, storeDir, process: undefined });
        }
      }
      // Brokers start in parallel: each one's tsx start-up is most of the time.
      await Promise.all(cluster.brokerSlots.map((slot) => cluster.startBroker(slot.brokerName, slot.brokerId)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** `host:port` of the first nameserver, what clients take as `namesrvAddr` / `nameSrv`. */
  get namesrvAddr(): string {
    return this.nameserverAddr(0);
  }

  /** Every nameserver, `;`-separated as RocketMQ's `namesrvAddr` takes a list. */
  get namesrvAddrs(): string {
    return this.nameserverSlots.map((_, index) => this.nameserverAddr(index)).join(';');
  }

  /** `host:port` of nameserver `index`, stable across stop/start. */
  nameserverAddr(index = 0): string {
    const slot = this.nameserverSlot(index);
    return `${slot.host}:${slot.port}`;
  }

  /** Nameserver `index`'s process while it runs. */
  nameserverProcess(index = 0): LoggedProcess | undefined {
    return this.nameserverSlot(index).process;
  }

  /** `host:port` of a broker, stable across stop/start. */
  brokerAddr(brokerName = 'broker-a', brokerId = 0): string {
    const slot = this.slot(brokerName, brokerId);
    return `${slot.host}:${slot.port}`;
  }

  /** The broker's process while it runs (its log lines, its exit). */
  brokerProcess(brokerName = 'broker-a', brokerId = 0): LoggedProcess | undefined {
    return this.slot(brokerName, brokerId).process;
  }

  /** Start (or start again, on its port and store) a broker that is not running. */
  async startBroker(brokerName = 'broker-a', brokerId = 0): Promise<void> {
    const slot = this.slot(brokerName, brokerId);
    if (slot.process?.running) return;
    const roleArgs = brokerId === 0 ? (this.options.masterArgs ?? []) : ['--broker-id', String(brokerId), '--role', 'SLAVE', ...(this.options.slaveArgs ?? [])];
    const args = [
      '--conditions=@karman/source', '--import', 'tsx', 'src/main.ts',
      '--listen', `${slot.host}:${slot.port}`,
      '--namesrv', this.namesrvAddrs,
      '--broker-name', brokerName,
      '--store', slot.storeDir,
      ...SMALL_STORE_ARGS,
      ...(this.options.brokerArgs ?? []),
      ...roleArgs,
      ...slot.args,
    ];
    const child = LoggedProcess.spawn(`karman-broker ${brokerName}/${brokerId}`, args, { cwd: join(this.appsDir, 'broker'), launcher: slot.launcher });
    slot.process = child;
    const listening = await child.waitForLine((l) => l.msg === 'karman-broker listening', 'the "karman-broker listening" line', this.startTimeoutMillis);
    slot.port = listening.port as number;
  }

  /** Stop a broker gracefully (it unregisters from the nameserver and persists offsets). */
  async stopBroker(brokerName = 'broker-a', brokerId = 0): Promise<void> {
    const slot = this.slot(brokerName, brokerId);
    await this.dropAdmin(`${slot.host}:${slot.port}`);
    await slot.process?.stop();
  }

  /** SIGKILL a broker: nothing is persisted beyond what the store already wrote. */
  async killBroker(brokerName = 'broker-a', brokerId = 0): Promise<void> {
    const slot = this.slot(brokerName, brokerId);
    await this.dropAdmin(`${slot.host}:${slot.port}`);
    await slot.process?.kill();
  }

  /** SIGSTOP a broker: its sockets stay open, it answers nothing and stops registering. */
  pauseBroker(brokerName = 'broker-a', brokerId = 0): void {
    this.slot(brokerName, brokerId).process?.pause();
  }

  /** SIGCONT a paused broker. */
  resumeBroker(brokerName = 'broker-a', brokerId = 0): void {
    this.slot(brokerName, brokerId).process?.resume();
  }

  /** Start (or start again, on its port) a nameserver that is not running. */
  async startNameServer(index = 0): Promise<void> {
    const slot = this.nameserverSlot(index);
    if (slot.process?.running) return;
    const args = ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', '--listen', `${slot.host}:${slot.port}`, ...(this.options.nameserverArgs ?? []), ...slot.args];
    slot.process = LoggedProcess.spawn(`karman-nameserver ${index}`, args, { cwd: join(this.appsDir, 'nameserver'), launcher: slot.launcher });
    const listening = await slot.process.waitForLine((l) => l.msg === 'karman-nameserver listening', 'the "karman-nameserver listening" line', this.startTimeoutMillis);
    slot.port = listening.port as number;
  }

  /** SIGTERM a nameserver: its routes are gone until brokers register with it again. */
  async stopNameServer(index = 0): Promise<void> {
    const slot = this.nameserverSlot(index);
    await this.dropAdmin(`${slot.host}:${slot.port}`);
    await slot.process?.stop();
  }

  /** SIGKILL a nameserver. */
  async killNameServer(index = 0): Promise<void> {
    const slot = this.nameserverSlot(index);
    await this.dropAdmin(`${slot.host}:${slot.port}`);
    await slot.process?.kill();
  }

  /** SIGSTOP a nameserver. */
  pauseNameServer(index = 0): void {
    this.nameserverSlot(index).process?.pause();
  }

  /** SIGCONT a paused nameserver. */
  resumeNameServer(index = 0): void {
    this.nameserverSlot(index).process?.resume();
  }

  /**
   * Stop every member gracefully, brokers (slaves first, so none reconnects to a master on its way
   * down) before nameservers; stores and ports are kept for `startAll`.
   */
  async stopAll(): Promise<void> {
    await Promise.all(this.brokerSlots.filter((s) => s.brokerId > 0).map((s) => this.stopBroker(s.brokerName, s.brokerId)));
    await Promise.all(this.brokerSlots.filter((s) => s.brokerId === 0).map((s) => this.stopBroker(s.brokerName, s.brokerId)));
    await Promise.all(this.nameserverSlots.map((_, index) => this.stopNameServer(index)));
  }

  /** Start every member that is not running, nameservers first, on their ports and stores. */
  async startAll(): Promise<void> {
    await Promise.all(this.nameserverSlots.map((_, index) => this.startNameServer(index)));
    await Promise.all(this.brokerSlots.map((s) => this.startBroker(s.brokerName, s.brokerId)));
  }

  /**
   * Create a topic on every master (or those named) through UPDATE_AND_CREATE_TOPIC, as RocketMQ's
   * `mqadmin updateTopic` does, then wait until the nameserver routes it to all of them. Slaves
   * copy the topic from their master.
   */
  async createTopic(topic: string, options: { queues?: number; perm?: number; order?: boolean; brokers?: readonly string[] } = {}): Promise<void> {
    const targets = this.brokerSlots.filter((s) => s.brokerId === 0 && (!options.brokers || options.brokers.includes(s.brokerName)));
    if (targets.length === 0) throw new KarmanError('NO_SUCH_BROKER', `no broker matches ${JSON.stringify(options.brokers)}`);
    for (const slot of targets) await createTopicOn(this.adminClient(`${slot.host}:${slot.port}`), slot.brokerName, topic, options);
    await this.waitForRoute(topic, targets.map((s) => s.brokerName));
  }

  /** Wait until every running nameserver routes `topic` to each of `brokerNames`. */
  async waitForRoute(topic: string, brokerNames: readonly string[], timeoutMillis = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    for (const slot of this.nameserverSlots) {
      if (!slot.process?.running || slot.process.paused) continue;
      await waitForRouteOn(this.adminClient(`${slot.host}:${slot.port}`), topic, brokerNames, deadline);
    }
  }

  /** A remoting client to any cluster member, closed with the cluster. */
  adminClient(address: string): RemotingClient {
    let client = this.admin.get(address);
    if (!client) {
      client = new RemotingClient(`tcp://${address}`, { reconnect: false });
      this.admin.set(address, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.admin.values()].map((c) => c.close().catch(() => undefined)));
    this.admin.clear();
    await Promise.all(
      this.brokerSlots.map(async (slot) => {
        await slot.process?.stop(5_000);
      }),
    );
    await Promise.all(
      this.nameserverSlots.map(async (slot) => {
        await slot.process?.stop(5_000);
      }),
    );
    rmSync(this.root, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private place(member: ClusterMember): Pick<MemberSlot, 'host' | 'launcher' | 'args'> {
    const placed = this.options.placement?.(member) ?? { host: '127.0.0.1' };
    return { host: placed.host, launcher: placed.launcher, args: placed.args ?? [] };
  }

  private nameserverSlot(index: number): MemberSlot {
    const slot = this.nameserverSlots[index];
    if (!slot) throw new KarmanError('NO_SUCH_NAMESERVER', `no nameserver ${index} in this cluster (it has ${this.nameserverSlots.length}, numbered from 0)`);
    return slot;
  }

  private slot(brokerName: string, brokerId: number): BrokerProcessSlot {
    const slot = this.brokerSlots.find((s) => s.brokerName === brokerName && s.brokerId === brokerId);
    if (!slot) throw new KarmanError('NO_SUCH_BROKER', `no broker ${brokerName} with brokerId ${brokerId} in this cluster`);
    return slot;
  }

  private async dropAdmin(address: string): Promise<void> {
    const client = this.admin.get(address);
    this.admin.delete(address);
    await client?.close().catch(() => undefined);
  }
}

/** Start a process cluster: `await using cluster = await startProcessCluster({ brokerArgs: [...] })`. */
export function startProcessCluster(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  return ProcessCluster.start(options);
}
