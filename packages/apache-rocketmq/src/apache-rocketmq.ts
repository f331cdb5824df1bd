/**
 * Apache RocketMQ's own nameserver and broker, run from the Maven Central artifacts, as the
 * reference peer: Karman's clients are checked against it, and `karman-bench compare` measures it
 * beside Karman with the same client.
 *
 * The class path comes from `pom.xml` beside this package (`mvn dependency:build-classpath`, once
 * per machine and version; Maven keeps the jars in `~/.m2`, this package keeps the class path in
 * `target/classpath-<version>.txt`). Each start makes a temporary ROCKETMQ_HOME with a generated
 * `namesrv.conf` and `broker.conf`, points `user.home` there too (RocketMQ writes its logs under
 * `~/logs/rocketmqlogs`), picks free ports, starts `NamesrvStartup` and `BrokerStartup`, and waits
 * until the nameserver lists the broker. `await using rmq = await startApacheRocketMQ()` stops both
 * JVMs and removes the folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, KarmanError, RemotingClient, RequestCode, ResponseCode, createRequest, parseRemotingJson } from '@karman/protocol';

/** The Apache RocketMQ release the reference cluster runs (the newest 5.x on Maven Central whose broker, nameserver, tools and example all resolve). */
export const APACHE_ROCKETMQ_VERSION = '5.5.0';

/** This package's folder (this file is src/apache-rocketmq.ts or dist/apache-rocketmq.js). */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface ApacheRocketMQOptions {
  /** Extra `broker.conf` entries, after the generated ones (so they win), e.g. `{ flushDiskType: 'SYNC_FLUSH' }`. */
  brokerConfig?: Record<string, string | number | boolean>;
  /** Broker JVM heap, for both -Xms and -Xmx (`1g`: fits a 2-core, 24 GiB machine beside Karman). */
  brokerHeap?: string;
  /** Nameserver JVM heap (`256m`). */
  nameserverHeap?: string;
  /** How long both JVMs may take to boot and the broker to register (90 s; the first run also resolves the class path). */
  startTimeoutMillis?: number;
  /** Java launcher (`$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH). */
  java?: string;
  /** `brokerClusterName` (`DefaultCluster`). */
  clusterName?: string;
  /** `brokerName` (`broker-a`). */
  brokerName?: string;
  /**
   * The broker's `autoCreateTopicEnable`: whether a send to an unknown topic creates it from
   * `TBW102`'s template. Left out, RocketMQ's own default applies (true). `brokerConfig` wins.
   */
  autoCreateTopicEnable?: boolean;
  /** Extra `namesrv.conf` entries, after the generated `listenPort` (so they win). */
  nameserverConfig?: Record<string, string | number | boolean>;
  /**
   * How long `close()` lets each JVM run RocketMQ's shutdown hooks after SIGTERM before SIGKILL
   * (0: SIGKILL both at once). The store is removed on close, so a graceful stop keeps nothing; it
   * only lets the broker unregister, which costs about 10 s.
   */
  stopGraceMillis?: number;
}

/** Whether this machine can start the reference cluster, and if not, one line saying why. */
export function apacheRocketMQAvailability(): { available: true } | { available: false; reason: string } {
  const java = spawnSync(javaCommand(), ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) return { available: false, reason: `no Java runtime (${javaCommand()} -version failed): install a JDK 17 to run Apache RocketMQ` };
  if (existsSync(classpathFile())) return { available: true };
  const mvn = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) return { available: false, reason: 'no Maven (mvn -v failed): install Maven 3.8+ to fetch Apache RocketMQ from Maven Central' };
  return { available: true };
}

function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function classpathFile(): string {
  return join(PACKAGE_DIR, 'target', `classpath-${APACHE_ROCKETMQ_VERSION}.txt`);
}

/**
 * The class path of Apache RocketMQ's namesrv, broker and example modules. Resolved with Maven the
 * first time on a machine (which downloads the jars into `~/.m2`), then read from the cached file.
 */
export function apacheRocketMQClasspath(): string {
  const file = classpathFile();
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const result = spawnSync('mvn', ['-B', '-q', '-f', join(PACKAGE_DIR, 'pom.xml'), `-Drocketmq.version=${APACHE_ROCKETMQ_VERSION}`, 'dependency:build-classpath', `-Dmdep.outputFile=${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.error || result.status !== 0) {
      rmSync(file, { force: true });
      throw new KarmanError('MAVEN_FAILED', `mvn could not resolve Apache RocketMQ ${APACHE_ROCKETMQ_VERSION} from Maven Central (exit ${result.status}): ${(result.stdout + result.stderr).slice(-2_000)}`);
    }
  }
  const classpath = readFileSync(file, 'utf8').trim();
  if (classpath === '') throw new KarmanError('MAVEN_FAILED', `${file} is empty: delete it and start again to resolve the class path anew`);
  return classpath;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new KarmanError('NO_PORT', 'the probe server got no port'))));
    });
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

/**
 * A broker port P whose neighbours are free too: RocketMQ's broker also listens on P - 2 (the
 * "fast" VIP channel, `fastListenPort`) and P + 1 (`haListenPort`).
 */
async function freeBrokerPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port < 1026 || port > 65_000) continue;
    if ((await portFree(port - 2)) && (await portFree(port + 1))) return port;
  }
  throw new KarmanError('NO_PORT', 'found no free port P with P - 2 and P + 1 free for the Apache RocketMQ broker');
}

function propertiesText(entries: Record<string, string | number | boolean>): string {
  return Object.entries(entries).map(([key, value]) => `${key}=${String(value)}`).join('\n') + '\n';
}

/**
 * JVMs still running, killed when this Node process exits without closing them (a test worker
 * stopped at its timeout, an uncaught error): a JVM outliving its parent would hold a gigabyte
 * of heap and its ports until someone finds it.
 */
const runningJvms = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackJvm(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const jvm of runningJvms) jvm.kill('SIGKILL');
    });
  }
  runningJvms.add(child);
  child.once('exit', () => runningJvms.delete(child));
}

/** One JVM of the reference cluster: its output goes to a file; the tail is kept for errors. */
class JavaProcess {
  private tail = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    log: WriteStream,
  ) {
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-8_000);
      for (const wake of [...this.waiters]) wake();
    };
    trackJvm(child);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((done) =>
      child.on('exit', () => {
        log.end();
        for (const wake of [...this.waiters]) wake();
        done();
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail;
  }

  /** Resolve once the output has contained `text`; reject if the JVM exits or the deadline passes. */
  async waitFor(text: string, deadline: number): Promise<void> {
    for (;;) {
      if (this.tail.includes(text)) return;
      if (!this.running) throw new KarmanError('PROCESS_EXITED', `${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before printing "${text}": ${this.tail.slice(-2_000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new KarmanError('PROCESS_TIMEOUT', `${this.name} did not print "${text}" in time: ${this.tail.slice(-2_000)}`);
      await new Promise<void>((wake) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          wake();
        };
        const timer = setTimeout(done, Math.min(left, 500));
        this.waiters.add(done);
      });
    }
  }

  /** SIGTERM (RocketMQ's shutdown hooks flush and unregister), then SIGKILL after `graceMillis`; 0 is SIGKILL at once. */
  async stop(graceMillis = 15_000): Promise<void> {
    if (!this.running) return;
    if (graceMillis <= 0) {
      this.child.kill('SIGKILL');
      await this.exited;
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMillis);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A running Apache RocketMQ nameserver and one master broker on 127.0.0.1; see the file comment. */
export class ApacheRocketMQ implements AsyncDisposable {
  private constructor(
    /** ROCKETMQ_HOME and `user.home` of both JVMs: configs, store, logs. Removed on close. */
    readonly root: string,
    /** `127.0.0.1:port` of the nameserver. */
    readonly namesrvAddr: string,
    /** `127.0.0.1:port` of the broker (its `listenPort`). */
    readonly brokerAddr: string,
    readonly clusterName: string,
    readonly brokerName: string,
    private readonly nameserver: JavaProcess,
    private readonly broker: JavaProcess,
    private readonly stopGraceMillis: number,
  ) {}

  /** The Apache RocketMQ release running. */
  get version(): string {
    return APACHE_ROCKETMQ_VERSION;
  }

  static async start(options: ApacheRocketMQOptions = {}): Promise<ApacheRocketMQ> {
    const deadline = Date.now() + (options.startTimeoutMillis ?? 90_000);
    const clusterName = options.clusterName ?? 'DefaultCluster';
    const brokerName = options.brokerName ?? 'broker-a';
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(brokerName) || !/^[A-Za-z0-9_-]{1,64}$/.test(clusterName)) throw new InvalidArgumentError(`brokerName and clusterName must be 1–64 letters, digits, _ or -; got ${JSON.stringify(brokerName)} / ${JSON.stringify(clusterName)}`);
    const classpath = apacheRocketMQClasspath();
    const root = mkdtempSync(join(tmpdir(), 'apache-rocketmq-'));
    const started: JavaProcess[] = [];
    try {
      mkdirSync(join(root, 'conf'));
      const namesrvPort = await freePort();
      const brokerPort = await freeBrokerPort();
      writeFileSync(join(root, 'conf', 'namesrv.conf'), propertiesText({ listenPort: namesrvPort, ...options.nameserverConfig }));
      writeFileSync(
        join(root, 'conf', 'broker.conf'),
        propertiesText({
          brokerClusterName: clusterName,
          brokerName,
          brokerId: 0,
          brokerRole: 'ASYNC_MASTER',
          flushDiskType: 'ASYNC_FLUSH',
          brokerIP1: '127.0.0.1',
          listenPort: brokerPort,
          namesrvAddr: `127.0.0.1:${namesrvPort}`,
          storePathRootDir: join(root, 'store'),
          storePathCommitLog: join(root, 'store', 'commitlog'),
          ...(options.autoCreateTopicEnable === undefined ? {} : { autoCreateTopicEnable: options.autoCreateTopicEnable }),
          ...options.brokerConfig,
        }),
      );
      const jvm = (heap: string): string[] => [`-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseG1GC', `-Duser.home=${root}`, `-Drocketmq.home.dir=${root}`, '-cp', classpath];
      const env = { ...process.env, ROCKETMQ_HOME: root };
      const launch = (name: string, args: string[]): JavaProcess => {
        const child = spawn(options.java ?? javaCommand(), args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
        const process = new JavaProcess(name, child, createWriteStream(join(root, `${name}.out`)));
        started.push(process);
        return process;
      };
      const nameserver = launch('namesrv', [...jvm(options.nameserverHeap ?? '256m'), 'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', join(root, 'conf', 'namesrv.conf')]);
      await nameserver.waitFor('The Name Server boot success', deadline);
      const broker = launch('broker', [...jvm(options.brokerHeap ?? '1g'), 'org.apache.rocketmq.broker.BrokerStartup', '-c', join(root, 'conf', 'broker.conf')]);
      await broker.waitFor('boot success', deadline);
      const rmq = new ApacheRocketMQ(root, `127.0.0.1:${namesrvPort}`, `127.0.0.1:${brokerPort}`, clusterName, brokerName, nameserver, broker, options.stopGraceMillis ?? 0);
      await rmq.waitForRegistration(deadline);
      return rmq;
    } catch (error) {
      await Promise.all(started.map((p) => p.stop(0)));
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
  }

  /** The tail of a JVM's console output (for a test's failure message). */
  output(which: 'namesrv' | 'broker'): string {
    return (which === 'namesrv' ? this.nameserver : this.broker).output();
  }

  /** Poll GET_BROKER_CLUSTER_INFO until the nameserver lists this broker. */
  private async waitForRegistration(deadline: number): Promise<void> {
    const client = new RemotingClient(`tcp://${this.namesrvAddr}`, { reconnect: false });
    try {
      for (;;) {
        const response = await client.request(createRequest(RequestCode.GET_BROKER_CLUSTER_INFO.code, {}));
        if (response.code === ResponseCode.SUCCESS.code && response.body) {
          const info = parseRemotingJson(Buffer.from(response.body).toString('utf8')) as { brokerAddrTable?: Record<string, unknown> };
          if (info.brokerAddrTable && this.brokerName in info.brokerAddrTable) return;
        }
        if (Date.now() > deadline) throw new KarmanError('REGISTRATION_TIMEOUT', `Apache RocketMQ broker ${this.brokerName} did not register with ${this.namesrvAddr} in time: ${this.broker.output().slice(-2_000)}`);
        await new Promise((wake) => setTimeout(wake, 200));
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /**
   * Stop both JVMs and remove the folder: with `stopGraceMillis` 0 (the default) both are killed at
   * once; otherwise the broker gets SIGTERM first (it unregisters from the nameserver), then the
   * nameserver, each killed if still running after the grace time.
   */
  async close(): Promise<void> {
    if (this.stopGraceMillis <= 0) {
      await Promise.all([this.broker.stop(0), this.nameserver.stop(0)]);
    } else {
      await this.broker.stop(this.stopGraceMillis);
      await this.nameserver.stop(this.stopGraceMillis);
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Start the reference cluster: `await using rmq = await startApacheRocketMQ()`. */
export function startApacheRocketMQ(options: ApacheRocketMQOptions = {}): Promise<ApacheRocketMQ> {
  return ApacheRocketMQ.start(options);
}
