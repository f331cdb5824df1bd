/**
 * `pnpm start` as a user meets it, minus the build: the start script runs from source on free
 * ports, prints its banner, the banner's two karman-admin commands are run as printed, Ctrl-C
 * (SIGINT) stops everything with exit code 0, and a second start on the same data folder still has
 * the message the first one stored.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { run } from '../src/cli.js';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = mkdtempSync(join(tmpdir(), 'karman-start-'));
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startLocal(namesrvPort: number, brokerPort: number, extra: string[] = [], dir = dataDir): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@karman/source', '--import', 'tsx', 'src/start-local.ts', '--source', ...extra,
      '--data-dir', dir, '--namesrv-port', String(namesrvPort), '--broker-port', String(brokerPort),
      '--set', 'mappedFileSizeCommitLog=4194304', '--set', 'mappedFileSizeConsumeQueue=200000', '--set', 'maxHashSlotNum=10000', '--set', 'maxIndexNum=40000',
    ],
    { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));
  const deadline = Date.now() + 30_000;
  while (!output.includes('Press Ctrl-C to stop.')) {
    if (child.exitCode !== null) throw new Error(`start-local exited (${child.exitCode}) before its banner:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no banner within 30 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

/** The banner's `pnpm exec karman-admin ...` lines as argv arrays (double quotes group words). */
function bannerCommands(output: string): string[][] {
  return [...output.matchAll(/^\s+pnpm exec karman-admin (.+)$/gm)].map((m) => [...m[1]!.matchAll(/"([^"]*)"|(\S+)/g)].map((w) => w[1] ?? w[2]!));
}

async function admin(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } });
  return { code, out };
}

it('starts, runs the printed commands, stops on Ctrl-C, and keeps the data for the next start', { timeout: 60_000 }, async () => {
  const namesrvPort = await freePort();
  const brokerPort = await freePort();

  const first = await startLocal(namesrvPort, brokerPort);
  expect(first.output()).toContain(`nameserver        127.0.0.1:${namesrvPort}`);
  expect(first.output()).toContain(`broker-a master   127.0.0.1:${brokerPort}`);
  expect(first.output()).toMatch(/\d\d:\d\d:\d\d\.\d{3} namesrv\s+INFO {2}karman-nameserver listening/);
  const [send, consume] = bannerCommands(first.output());
  expect(send?.[0]).toBe('sendMessage');
  expect(consume?.[0]).toBe('consumeMessage');
  const sent = await admin(send!);
  expect(sent.code, sent.out).toBe(0);
  expect(sent.out).toContain('SEND_OK');
  const consumed = await admin(consume!);
  expect(consumed.code, consumed.out).toBe(0);
  expect(consumed.out).toContain('BODY: Hello Karman');

  first.child.kill('SIGINT');
  expect(await first.exited).toBe(0);
  expect(first.output()).toContain('Stopped cleanly.');
  expect(first.output()).toMatch(/broker-a\s+INFO {2}stopped/);

  const second = await startLocal(namesrvPort, brokerPort);
  const again = await admin(bannerCommands(second.output())[1]!);
  expect(again.code, again.out).toBe(0);
  expect(again.out).toContain('BODY: Hello Karman');
  expect(again.out).toContain('Consumed 1 message.');
  second.child.kill('SIGINT');
  expect(await second.exited).toBe(0);
});

it('starts two broker groups, each a master/slave pair, with --brokers 2 --slave', { timeout: 60_000 }, async () => {
  const namesrvPort = await freePort();
  const started = await startLocal(namesrvPort, 0, ['--brokers', '2', '--slave'], join(dataDir, 'pairs'));
  for (const member of ['broker-a master', 'broker-a slave', 'broker-b master', 'broker-b slave']) expect(started.output()).toMatch(new RegExp(`${member}\\s+127\\.0\\.0\\.1:\\d+`));
  expect(started.output()).toContain(`pnpm exec karman-admin haStatus -n 127.0.0.1:${namesrvPort} -c DefaultCluster`);
  let out = '';
  const code = await run(['clusterList', '-n', `127.0.0.1:${namesrvPort}`, '--json'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } });
  expect(code, out).toBe(0);
  expect((JSON.parse(out) as Array<{ brokerName: string; brokerId: number }>).map((r) => `${r.brokerName}/${r.brokerId}`)).toEqual(['broker-a/0', 'broker-a/1', 'broker-b/0', 'broker-b/1']);
  started.child.kill('SIGINT');
  expect(await started.exited).toBe(0);
});
