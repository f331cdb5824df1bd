/**
 * karman-nameserver as a real process (run from source through tsx, so no build is needed): flags,
 * pino logs, GET /health, a broker registering over TCP, KV config surviving a restart of the
 * process, and a graceful stop on SIGTERM and SIGINT.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { encodeRegisterBrokerBody } from '@karman/nameserver';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[]): Running {
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    let newline;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ text: line });
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, stderr: () => stderr, exited };
}

async function waitForLine(running: Running, msg: string, timeoutMillis = 15_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  for (;;) {
    const line = running.lines.find((l) => l.msg === msg);
    if (line) return line;
    if (running.child.exitCode !== null) throw new Error(`process exited (${running.child.exitCode}) before logging "${msg}": ${running.stderr()}`);
    if (Date.now() - start > timeoutMillis) throw new Error(`no "${msg}" log line within ${timeoutMillis} ms; stderr: ${running.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('karman-nameserver process', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'karman-ns-app-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves brokers and /health, keeps KV config across a restart, and stops on SIGTERM and SIGINT', async () => {
    const first = run(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--set', 'scanNotActiveBrokerInterval=50']);
    children.push(first.child);
    const listening = await waitForLine(first, 'karman-nameserver listening');
    expect(listening).toMatchObject({ host: '127.0.0.1', level: 30, name: 'karman-nameserver', dataDir });
    const port = listening.port as number;

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', role: 'nameserver', brokerNames: 0 });

    const broker = new RemotingClient(`tcp://127.0.0.1:${port}`, { reconnect: false });
    const registered = await broker.request(
      createRequest(
        RequestCode.REGISTER_BROKER.code,
        { clusterName: 'AppCluster', brokerName: 'app-broker', brokerAddr: '127.0.0.1:10911', haServerAddr: '127.0.0.1:10912', brokerId: 0 },
        encodeRegisterBrokerBody([{ topicName: 'AppTopic', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0, order: false }], { timestamp: 1, counter: 1 }),
      ),
    );
    expect(registered.code).toBe(ResponseCode.SUCCESS.code);
    const route = await broker.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'AppTopic' }));
    expect(JSON.parse(Buffer.from(route.body ?? []).toString())).toMatchObject({ brokerDatas: [{ brokerName: 'app-broker', brokerAddrs: { '0': '127.0.0.1:10911' } }] });
    expect((await broker.request(createRequest(RequestCode.PUT_KV_CONFIG.code, { namespace: 'ns', key: 'k', value: 'kept' }))).code).toBe(0);
    // Closing the broker's connection removes it at once, and the process logs why.
    await broker.close();
    expect(await waitForLine(first, 'broker removed')).toMatchObject({ brokerAddr: '127.0.0.1:10911', reason: 'connection-closed', brokerNameRemoved: true });

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));

    const second = run(['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    children.push(second.child);
    await waitForLine(second, 'karman-nameserver listening');
    const client = new RemotingClient(`127.0.0.1:${port}`, { reconnect: false });
    try {
      const value = await client.request(createRequest(RequestCode.GET_KV_CONFIG.code, { namespace: 'ns', key: 'k' }));
      expect(value.extFields.value).toBe('kept');
    } finally {
      await client.close();
    }
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('reads a .properties config file', async () => {
    const file = join(dataDir, 'namesrv.properties');
    await writeFile(file, 'bindAddress=127.0.0.1\nlistenPort=0\norderMessageEnable=true\n');
    const running = run(['-c', file]);
    children.push(running.child);
    const listening = await waitForLine(running, 'karman-nameserver listening');
    const config = new RemotingClient(`127.0.0.1:${listening.port as number}`, { reconnect: false });
    try {
      const answer = await config.request(createRequest(RequestCode.GET_NAMESRV_CONFIG.code, {}));
      expect(Buffer.from(answer.body ?? []).toString()).toMatch(/^orderMessageEnable=true$/m);
    } finally {
      await config.close();
    }
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('--help lists the options and exits 0; a bad option exits 2 naming it', async () => {
    const help = run(['--help']);
    expect(await help.exited).toBe(0);
    const text = help.lines.map((l) => l.text).join('\n');
    expect(text).toMatch(/--listen HOST:PORT/);
    expect(text).toMatch(/brokerExpiredMillis .*\(default: 120000\)/);
    const bad = run(['--set', 'listenPort=http']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/option "listenPort" must be an integer/);
  });
});
