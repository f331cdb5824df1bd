import { describe, expect, it } from 'vitest';
import { commands, run } from './cli.js';

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env });
  return { code, out, err };
}

describe('karman-admin command line', () => {
  it('lists every command for --help, and exits 2 with the list when no command is given', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['updateTopic', 'deleteTopic', 'consumerProgress', 'queryMsgByOffset', 'consumeMessage', 'haStatus']) expect(help.out).toContain(`  ${name} `);
    expect((await cli([])).code).toBe(2);
  });

  it('prints each command\'s flags with mqadmin\'s letters for <command> --help', async () => {
    for (const command of commands) {
      const help = await cli([command.name, '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toContain(`Usage: karman-admin ${command.name} -n HOST:PORT`);
      expect(help.out).toContain('-n, --namesrvAddr VALUE');
      for (const flag of command.flags) expect(help.out).toContain(`--${flag.long}`);
    }
    expect((await cli(['updateTopic', '-h'])).out).toMatch(/-r, --readQueueNums VALUE\s+Read queues per broker\. \(default: 8\)/);
  });

  it('refuses unknown flags, missing required flags and a missing nameserver with exit 2 and one line', async () => {
    const unknown = await cli(['topicList', '-n', '127.0.0.1:9876', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^karman-admin topicList: .*bogus.*; run karman-admin topicList --help\n$/);
    const missing = await cli(['queryMsgByOffset', '-n', '127.0.0.1:9876', '-t', 'T']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('karman-admin queryMsgByOffset: missing -b (--brokerName), -i (--queueId), -o (--offset); run karman-admin queryMsgByOffset --help\n');
    const noNameserver = await cli(['topicList']);
    expect(noNameserver.code).toBe(2);
    expect(noNameserver.err).toContain('no nameserver given; pass -n HOST:PORT');
  });

  it('accepts a command name in any case, as mqadmin users type it', async () => {
    const result = await cli(['TOPICLIST', '--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('Usage: karman-admin topicList');
  });

  it('refuses a malformed number before connecting anywhere', async () => {
    const result = await cli(['updateTopic', '-n', '127.0.0.1:1', '-b', '127.0.0.1:1', '-t', 'T', '-r', 'eight']);
    expect(result.code).toBe(2);
    expect(result.err).toBe('karman-admin updateTopic: --readQueueNums "eight" is not an integer from 1 to 1024\n');
  });
});
