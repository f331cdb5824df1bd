/**
 * `pnpm start`: a local Karman cluster in the foreground. Starts one `karman-nameserver` and the
 * brokers asked for as child processes, prints their logs as readable lines, creates the demo topic,
 * prints a banner with the addresses and two karman-admin commands to try, and on Ctrl-C stops the
 * brokers (which unregister) and then the nameserver. Data lives under `--data-dir` (./.karman), so
 * a second start finds the messages of the first.
 *
 * Ports: nameserver `--namesrv-port` (9876); broker group i (broker-a, broker-b, ...) has its master
 * on `--broker-port` + 20·i (10911, 10931, ...) and, with `--slave`, its slave 10 above its master.
 * Port 0 picks free ports. Exit codes: 0 after a clean stop, 1 when a process failed, 2 bad flags.
 *
 * Children run in their own process group (`detached`) so a terminal's Ctrl-C reaches only this
 * script, which then signals each child exactly once: a second signal makes the servers exit
 * without waiting, which would skip the brokers' unregistration and final flush.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { InvalidArgumentError, KarmanError, RequestCode } from '@karman/protocol';
import { AdminClient } from './admin-client.js';
import { formatLogLine } from './log-line.js';

export const LocalClusterOptionsSchema = z.object({
  /** Broker groups: 1 (broker-a) to 26 (broker-a … broker-z). */
  brokers: z.coerce.number().int().min(1).max(26).default(1),
  /** Add a slave (brokerId 1, role SLAVE) to each group; it replicates its master. */
  slave: z.boolean().default(false),
  /** Folder for every store and the nameserver's KV config. */
  dataDir: z.string().min(1).default('.karman'),
  /** Address every process listens on and advertises. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Nameserver port (RocketMQ's 9876). */
  namesrvPort: z.coerce.number().int().min(0).max(65535).default(9876),
  /** First broker's port (RocketMQ's 10911). */
  brokerPort: z.coerce.number().int().min(0).max(65535).default(10911),
  /** Cluster name. */
  clusterName: z.string().min(1).default('DefaultCluster'),
  /** Topic created at start for the banner's commands (RocketMQ's quick-start topic). */
  topic: z.string().min(1).default('TopicTest'),
  /** `key=value` options passed to every broker as `--set`. */
  brokerSet: z.array(z.string()).default([]),
  /** Run the servers from TypeScript sources (tsx) instead of their builds; for tests. */
  fromSource: z.boolean().default(false),
});
export type LocalClusterOptions = z.output<typeof LocalClusterOptionsSchema>;

const HELP = `Usage: pnpm start [-- flags]   (or node apps/admin/dist/start-local.js [flags])

Starts a local Karman cluster in the foreground; Ctrl-C stops it. Data is kept in --data-dir.

Flags:
  --brokers N          Broker groups broker-a, broker-b, ... (default: 1)
  --slave              Add a slave to each group; it copies its master (see karman-admin haStatus)
  --data-dir DIR       Data folder (default: ./.karman)
  --host HOST          Listen and advertise address (default: 127.0.0.1)
  --namesrv-port PORT  Nameserver port (default: 9876; 0 picks a free one)
  --broker-port PORT   First broker port; group i uses PORT+20*i, its slave 10 more (default: 10911)
  --cluster NAME       Cluster name (default: DefaultCluster)
  --topic NAME         Demo topic created at start (default: TopicTest)
  --set KEY=VALUE      Broker option for every broker; repeatable
  --source             Run the servers from source with tsx (no build needed)
  -h, --help           Print this help
`;

interface Member {
  label: string;
  child: ChildProcess;
  exited: Promise<number>;
}

function appDir(name: '@karman/broker-app' | '@karman/nameserver-app'): string {
  return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
}

/** Spawn a server; resolve with its `listening` log line, reject if it exits first. */
function startServer(
  options: LocalClusterOptions,
  label: string,
  app: '@karman/broker-app' | '@karman/nameserver-app',
  args: string[],
  members: Member[],
): Promise<Record<string, unknown>> {
  const dir = appDir(app);
  const bin = app === '@karman/broker-app' ? 'karman-broker' : 'karman-nameserver';
  const argv = options.fromSource ? ['--conditions=@karman/source', '--import', 'tsx', join(dir, 'src', 'main.ts'), ...args] : [join(dir, 'bin', `${bin}.js`), ...args];
  if (!options.fromSource && !existsSync(join(dir, 'dist', 'main.js'))) {
    return Promise.reject(new KarmanError('PROCESS_EXITED', `${bin} is not built (${join(dir, 'dist')} is missing); run pnpm build, or pnpm start which builds first`));
  }
  const child = spawn(process.execPath, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number>((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1))));
  members.push({ label, child, exited });
  return new Promise((resolveListening, reject) => {
    let buffered = '';
    let listening = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        process.stdout.write(`${formatLogLine(label, line)}\n`);
        if (!listening && line.includes(' listening"')) {
          listening = true;
          resolveListening(JSON.parse(line) as Record<string, unknown>);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) process.stderr.write(`${label.padEnd(12)} ${line}\n`);
    });
    void exited.then((code) => {
      if (!listening) reject(new KarmanError('PROCESS_EXITED', `${label} exited with code ${code} before it was listening; see its output above`));
    });
  });
}

async function waitForCluster(admin: AdminClient, options: LocalClusterOptions, expected: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const members = await admin.members().catch(() => []);
    if (members.filter((m) => m.cluster === options.clusterName).length >= expected) return;
    if (Date.now() > deadline) throw new KarmanError('REGISTRATION_TIMEOUT', `the brokers did not all register with the nameserver within 20 s (${members.length} of ${expected})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Create the demo topic on every master (idempotent) and wait until the nameserver routes it. */
async function createDemoTopic(admin: AdminClient, options: LocalClusterOptions, masters: string[]): Promise<void> {
  for (const address of masters) {
    await admin.call(address, RequestCode.UPDATE_AND_CREATE_TOPIC.code, {
      topic: options.topic,
      defaultTopic: 'TBW102',
      readQueueNums: 4,
      writeQueueNums: 4,
      perm: 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: 0,
      order: false,
    });
  }
  const deadline = Date.now() + 20_000;
  while ((await admin.route(options.topic).catch(() => undefined))?.queueDatas.length !== masters.length) {
    if (Date.now() > deadline) throw new KarmanError('ROUTE_TIMEOUT', `the nameserver did not route ${options.topic} within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopAll(members: Member[]): Promise<number> {
  let code = 0;
  // Brokers first (reverse start order) so they unregister while the nameserver still runs.
  for (const member of [...members].reverse()) {
    if (member.child.exitCode === null && member.child.signalCode === null) member.child.kill('SIGTERM');
    const timer = setTimeout(() => member.child.kill('SIGKILL'), 20_000);
    const exit = await member.exited;
    clearTimeout(timer);
    if (exit !== 0) code = 1;
  }
  return code;
}

function parseOptions(argv: readonly string[]): LocalClusterOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv].filter((a) => a !== '--'),
    strict: true,
    options: {
      brokers: { type: 'string' },
      slave: { type: 'boolean' },
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      'namesrv-port': { type: 'string' },
      'broker-port': { type: 'string' },
      cluster: { type: 'string' },
      topic: { type: 'string' },
      set: { type: 'string', multiple: true },
      source: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const parsed = LocalClusterOptionsSchema.safeParse({
    brokers: values.brokers,
    slave: values.slave,
    dataDir: values['data-dir'],
    host: values.host,
    namesrvPort: values['namesrv-port'],
    brokerPort: values['broker-port'],
    clusterName: values.cluster,
    topic: values.topic,
    brokerSet: values.set,
    fromSource: values.source,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`--${String(issue.path[0] ?? '')}: ${issue.message}`);
  }
  return parsed.data;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: LocalClusterOptions;
  try {
    const parsed = parseOptions(argv);
    if (parsed === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    options = parsed;
  } catch (error) {
    process.stderr.write(`start-local: ${(error as Error).message}; run with --help\n`);
    return 2;
  }
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const members: Member[] = [];
  // Should this script die, take the servers with it: they run in their own process groups.
  process.on('exit', () => {
    for (const m of members) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
  });

  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> => (stopping ??= stopAll(members));
  let requestStop: () => void = () => undefined;
  const stopRequested = new Promise<void>((done) => (requestStop = done));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    requestStop();
    if (signals === 1) process.stdout.write(`\n${signal}: stopping the brokers, then the nameserver...\n`);
    else {
      process.stdout.write(`\n${signal} again: killing everything now\n`);
      for (const m of members) m.child.kill('SIGKILL');
    }
    void stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const nameserver = await startServer(options, 'namesrv', '@karman/nameserver-app', ['--listen', `${options.host}:${options.namesrvPort}`, '--data-dir', join(dataDir, 'namesrv')], members);
    const namesrvAddr = `${options.host}:${String(nameserver.port)}`;
    const specs: Array<{ brokerName: string; brokerId: number; port: number }> = [];
    for (let group = 0; group < options.brokers; group++) {
      const brokerName = `broker-${String.fromCharCode(97 + group)}`;
      for (const brokerId of options.slave ? [0, 1] : [0]) specs.push({ brokerName, brokerId, port: options.brokerPort === 0 ? 0 : options.brokerPort + 20 * group + 10 * brokerId });
    }
    // Brokers start side by side: each only needs the nameserver, and a start is mostly waiting.
    const listening = await Promise.all(
      specs.map(({ brokerName, brokerId, port }) => {
        const args = [
          '--listen', `${options.host}:${port}`,
          '--namesrv', namesrvAddr,
          '--cluster', options.clusterName,
          '--broker-name', brokerName,
          '--broker-id', String(brokerId),
          '--role', brokerId === 0 ? 'ASYNC_MASTER' : 'SLAVE',
          '--store', join(dataDir, `${brokerName}-${brokerId}`),
          ...options.brokerSet.flatMap((s) => ['--set', s]),
        ];
        return startServer(options, brokerId === 0 ? brokerName : `${brokerName}-s`, '@karman/broker-app', args, members);
      }),
    );
    const addresses = listening.map((line) => String(line.address ?? `${options.host}:${String(line.port)}`));
    const masters = addresses.filter((_, i) => specs[i]!.brokerId === 0);
    const brokerLines = specs.map(({ brokerName, brokerId }, i) => `  ${`${brokerName} ${brokerId === 0 ? 'master' : 'slave'}`.padEnd(17)} ${addresses[i]}`);
    const ready = new AdminClient([namesrvAddr]);
    try {
      await waitForCluster(ready, options, specs.length);
      await createDemoTopic(ready, options, masters);
    } finally {
      await ready.close();
    }
    if (!stopping) {
      process.stdout.write(
        [
          '',
          '================================================================================',
          ` Karman is running: cluster ${options.clusterName}`,
          `  ${'nameserver'.padEnd(17)} ${namesrvAddr}`,
          ...brokerLines,
          `  ${'data'.padEnd(17)} ${dataDir}`,
          ...(options.slave ? [`  each slave copies its master; replication state: pnpm exec karman-admin haStatus -n ${namesrvAddr} -c ${options.clusterName}`] : []),
          '',
          ' Try, in another terminal:',
          `  pnpm exec karman-admin sendMessage -n ${namesrvAddr} -t ${options.topic} -p "Hello Karman"`,
          `  pnpm exec karman-admin consumeMessage -n ${namesrvAddr} -t ${options.topic} -c 10`,
          '',
          ' Press Ctrl-C to stop.',
          '================================================================================',
          '',
        ].join('\n'),
      );
    }
  } catch (error) {
    if (!stopping) {
      process.stderr.write(`start-local: ${(error as Error).message}\n`);
      await stop();
      return 1;
    }
  }
  // Run until a signal, or until a server dies on its own (then stop the rest and fail).
  const outcome = await Promise.race([
    stopRequested.then(() => undefined),
    ...members.map((m) => m.exited.then((code) => ({ label: m.label, code }))),
  ]);
  if (outcome && !stopping) {
    process.stderr.write(`start-local: ${outcome.label} exited with code ${outcome.code}; stopping the others\n`);
    await stop();
    return 1;
  }
  const code = await stop();
  process.stdout.write(code === 0 ? 'Stopped cleanly.\n' : 'Stopped, but a process did not exit cleanly; see above.\n');
  return code;
}

process.exitCode = await main(process.argv.slice(2));
