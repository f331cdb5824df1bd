import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nameServerOptionNames } from '@karman/nameserver';
import { helpText, parseCommandLine, parseListen } from './cli.js';

describe('karman-nameserver command line', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-ns-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help lists every flag and every option with its default', () => {
    const text = helpText();
    for (const flag of ['--listen HOST:PORT', '--data-dir DIR', '-c, --config FILE', '--set KEY=VALUE', '--help']) expect(text).toContain(flag);
    for (const name of nameServerOptionNames) expect(text).toMatch(new RegExp(`^  ${name} .*\\(default: [^)]+\\)$`, 'm'));
    expect(text).toMatch(/listenPort .*\(default: 9876\)/);
    expect(text).toMatch(/brokerExpiredMillis .*\(default: 120000\)/);
  });

  it('defaults to 0.0.0.0:9876 and reads --listen and --data-dir', async () => {
    expect(await parseCommandLine([])).toMatchObject({ kind: 'run', config: { bindAddress: '0.0.0.0', listenPort: 9876 }, logLevel: 'info' });
    expect(await parseCommandLine(['--listen', '127.0.0.1:0', '--data-dir', dir])).toMatchObject({ config: { bindAddress: '127.0.0.1', listenPort: 0, dataDir: dir } });
    expect(parseListen('[::1]:9876')).toEqual({ bindAddress: '::1', listenPort: '9876' });
    expect(await parseCommandLine(['-h'])).toEqual({ kind: 'help' });
  });

  it('reads .properties and JSON config files, with flags and --set winning in that order', async () => {
    const properties = join(dir, 'namesrv.properties');
    await writeFile(properties, '# RocketMQ style\nlistenPort=9999\norderMessageEnable=true\nbrokerExpiredMillis=1000\n');
    const fromFile = await parseCommandLine(['-c', properties, '--listen', '127.0.0.1:9100', '--set', 'brokerExpiredMillis=2000', '--set', 'scanNotActiveBrokerInterval=50']);
    expect(fromFile).toMatchObject({ config: { listenPort: 9100, bindAddress: '127.0.0.1', orderMessageEnable: true, brokerExpiredMillis: 2000, scanNotActiveBrokerInterval: 50 } });
    const json = join(dir, 'namesrv.json');
    await writeFile(json, JSON.stringify({ listenPort: 9201, returnOrderTopicConfigToBroker: false }));
    expect(await parseCommandLine(['--config', json])).toMatchObject({ config: { listenPort: 9201, returnOrderTopicConfigToBroker: false } });
  });

  it('refuses bad flags, files and values with a message naming them', async () => {
    await expect(parseCommandLine(['--lisen', 'x'])).rejects.toThrow(/--lisen.*--help/);
    await expect(parseCommandLine(['--listen', 'nohost'])).rejects.toThrow(/--listen "nohost" is not HOST:PORT/);
    await expect(parseCommandLine(['--set', 'listenPort'])).rejects.toThrow(/--set "listenPort" is not KEY=VALUE/);
    await expect(parseCommandLine(['--set', 'listenPort=abc'])).rejects.toThrow(/option "listenPort" must be an integer/);
    await expect(parseCommandLine(['--set', 'nosuch=1'])).rejects.toThrow(/unknown option "nosuch"/);
    await expect(parseCommandLine(['-c', join(dir, 'missing.properties')])).rejects.toThrow(/cannot read config file/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{');
    await expect(parseCommandLine(['-c', bad])).rejects.toThrow(/not valid JSON/);
    await expect(parseCommandLine(['--log-level', 'loud'])).rejects.toThrow(/--log-level "loud"/);
  });
});
