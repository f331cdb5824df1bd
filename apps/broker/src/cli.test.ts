import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { helpText, parseCommandLine, parseListen } from './cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'karman-broker-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const command = await parseCommandLine(argv);
  if (command.kind !== 'run') throw new Error('expected a run command');
  return command;
}

describe('karman-broker command line', () => {
  it('maps the named flags onto RocketMQ option names, with RocketMQ defaults', async () => {
    const { options, logLevel } = await run([
      '--listen', '127.0.0.1:0', '--namesrv', '10.0.0.1:9876;10.0.0.2:9876', '--cluster', 'C1', '--broker-name', 'broker-b',
      '--broker-id', '1', '--role', 'SLAVE', '--flush', 'SYNC_FLUSH', '--store', '/data/store',
    ]);
    expect(options).toMatchObject({
      listenHost: '127.0.0.1', listenPort: 0, namesrvAddr: '10.0.0.1:9876;10.0.0.2:9876', brokerClusterName: 'C1', brokerName: 'broker-b',
      brokerId: 1, brokerRole: 'SLAVE', flushDiskType: 'SYNC_FLUSH', storePathRootDir: '/data/store',
    });
    expect(logLevel).toBe('info');
    const defaults = (await run([])).options;
    expect(defaults).toMatchObject({ listenHost: '0.0.0.0', listenPort: 10911, brokerClusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, brokerRole: 'ASYNC_MASTER' });
  });

  it('reads broker.conf properties and JSON, then flags, then --set, later winning; store values are coerced', async () => {
    const conf = join(dir, 'broker.conf');
    await writeFile(conf, '# RocketMQ broker.conf\nbrokerClusterName = FileCluster\nbrokerName=broker-file\nflushDiskType=SYNC_FLUSH\nmaxMessageSize=1024\nmessageIndexEnable=false\nautoCreateTopicEnable=true\n');
    const fromFile = (await run(['-c', conf, '--broker-name', 'broker-flag', '--set', 'maxMessageSize=2048', '--set', 'deleteWhen=04;16'])).options;
    expect(fromFile).toMatchObject({ brokerClusterName: 'FileCluster', brokerName: 'broker-flag', flushDiskType: 'SYNC_FLUSH', maxMessageSize: 2048, messageIndexEnable: false, autoCreateTopicEnable: true, deleteWhen: '04;16' });
    const json = join(dir, 'broker.json');
    await writeFile(json, JSON.stringify({ brokerName: 'broker-json', fileReservedTime: 48, registerNameServerPeriod: 1000 }));
    expect((await run(['--config', json])).options).toMatchObject({ brokerName: 'broker-json', fileReservedTime: 48, registerNameServerPeriod: 1000 });
  });

  it('refuses unknown options, bad values and bad flags with a message naming them', async () => {
    await expect(parseCommandLine(['--set', 'brokername=x'])).rejects.toThrow(/unknown option "brokername"; did you mean "brokerName"\?/);
    await expect(parseCommandLine(['--set', 'maxMessageSize=big'])).rejects.toThrow(/option "maxMessageSize"="big"/);
    await expect(parseCommandLine(['--set', 'storeHost=x'])).rejects.toThrow(/set by the broker itself/);
    await expect(parseCommandLine(['--role', 'LEADER'])).rejects.toThrow(/brokerRole="LEADER"/);
    await expect(parseCommandLine(['--role', 'SLAVE'])).rejects.toThrow(/brokerRole=SLAVE needs brokerId ≥ 1/);
    await expect(parseCommandLine(['--set', 'mappedFileSizeConsumeQueue=30'])).rejects.toThrow(/multiple of the 20-byte/);
    await expect(parseCommandLine(['--listen', '10911'])).rejects.toThrow(/is not HOST:PORT/);
    await expect(parseCommandLine(['--set', 'novalue'])).rejects.toThrow(/is not KEY=VALUE/);
    await expect(parseCommandLine(['--bogus'])).rejects.toThrow(/--help/);
    await expect(parseCommandLine(['-c', join(dir, 'missing.conf')])).rejects.toThrow(/cannot read config file/);
    await expect(parseCommandLine(['--log-level', 'loud'])).rejects.toThrow(/--log-level "loud"/);
  });

  it('parses IPv6 listen addresses and prints every option with its default in --help', async () => {
    expect(parseListen('[::1]:10911')).toEqual({ listenHost: '::1', listenPort: '10911' });
    expect(parseListen(':10911')).toEqual({ listenHost: '0.0.0.0', listenPort: '10911' });
    expect(await parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    const help = helpText();
    expect(help).toMatch(/--namesrv ADDR\[;ADDR\]/);
    expect(help).toMatch(/^ {2}registerNameServerPeriod +How often to register with every nameserver\. \(default: 30000\)$/m);
    expect(help).toMatch(/^ {2}flushDiskType +ASYNC_FLUSH .*\(default: ASYNC_FLUSH\)$/m);
    expect(help).toMatch(/^ {2}namesrvAddr .*\(default: unset\)$/m);
  });
});
