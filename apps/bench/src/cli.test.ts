import { describe, expect, it } from 'vitest';
import { compareOptions, parseFlags, producerOptions, rocketmqBenchmarkOptions } from './bench-options.js';
import { run } from './cli.js';

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env });
  return { code, out, err };
}

describe('karman-bench command line', () => {
  it('lists the commands for --help and exits 2 without a command', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['producer', 'consumer', 'e2e', 'compare']) expect(help.out).toContain(`  ${name} `);
    expect((await cli([])).code).toBe(2);
  });

  it("prints each command's flags with RocketMQ's benchmark letters", async () => {
    const producer = await cli(['producer', '--help']);
    expect(producer.code).toBe(0);
    for (const flag of ['-n, --namesrvAddr ADDR', '-t, --topic TOPIC', '-s, --size BYTES', '-w, --concurrency N', '-q, --count COUNT', '--batch N', '--auto-batch', '--keys', '--tags N', '--topics N', '--delay-level L', '--transport ws|tcp', '--json']) {
      expect(producer.out).toContain(flag);
    }
    expect((await cli(['consumer', '-h'])).out).toContain('-g, --group GROUP');
    expect((await cli(['e2e', '-h'])).out).toContain('--rate R');
    expect((await cli(['compare', '-h'])).out).toContain('--out FILE');
  });

  it('names the unknown command and the way out', async () => {
    const result = await cli(['producr']);
    expect(result.code).toBe(2);
    expect(result.err).toBe('karman-bench: unknown command "producr"; give one of producer, consumer, e2e, compare, rocketmq-benchmark (karman-bench --help)\n');
  });

  it('refuses an unknown flag, naming it, with exit 2 and one line', async () => {
    const result = await cli(['producer', '-n', '127.0.0.1:9876', '--bogus']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^karman-bench producer: .*'--bogus'.*; run karman-bench producer --help\n$/);
  });

  it('refuses a missing value, a stray word and a missing nameserver', async () => {
    expect((await cli(['producer', '-n', '127.0.0.1:9876', '-s'])).err).toMatch(/-s, --size <value>' argument missing; run karman-bench producer --help/);
    expect((await cli(['producer', '-n', '127.0.0.1:9876', 'TopicTest'])).err).toContain('unexpected argument "TopicTest": every value belongs to a flag (e.g. -t TopicTest)');
    expect((await cli(['consumer', '-t', 'T'])).err).toBe('karman-bench consumer: no nameserver given: pass -n HOST:PORT (for example -n 127.0.0.1:9876) or set NAMESRV_ADDR; run karman-bench consumer --help\n');
  });

  it('says which number is wrong and what range to give, before connecting anywhere', async () => {
    const size = await cli(['producer', '-n', '127.0.0.1:1', '-s', 'big']);
    expect(size.code).toBe(2);
    expect(size.err).toBe('karman-bench producer: -s (--size) "big" is not valid: give the body size in bytes, a whole number from 32 to 4194304; run karman-bench producer --help\n');
    expect((await cli(['producer', '-n', '127.0.0.1:1', '-w', '0'])).err).toContain('-w (--concurrency) "0" is not valid: give the number of senders, a whole number from 1 to 10000');
    expect((await cli(['producer', '-n', '127.0.0.1:1', '--delay-level', '19'])).err).toContain('--delay-level "19" is not valid: give a delay level, a whole number from 1 to 18');
    expect((await cli(['e2e', '-n', '127.0.0.1:1', '--rate', '-5'])).err).toContain("--rate");
  });

  it('refuses flags that do not go together', async () => {
    expect((await cli(['producer', '-n', 'h:1', '--batch', '10', '--auto-batch'])).err).toContain('--batch and --auto-batch do not go together');
    expect((await cli(['producer', '-n', 'h:1', '--batch', '10', '--delay-level', '3'])).err).toContain('batches cannot carry delay levels');
    expect((await cli(['producer', '-n', 'h:1', '--batch', '1000', '-s', '65536'])).err).toContain('above the 4 MiB batch limit; lower --batch or -s');
    expect((await cli(['producer', '-n', 'h:1', '--transport', 'udp'])).err).toContain('--transport "udp" is not a transport: give ws (Karman WebSocket) or tcp (RocketMQ remoting)');
    expect((await cli(['producer', '-n', 'h:1', '-t', 'bad topic'])).err).toContain('-t (--topic) "bad topic" is not a topic name');
  });

  it('applies RocketMQ benchmark defaults and NAMESRV_ADDR', () => {
    const options = producerOptions(parseFlags('producer', []), { NAMESRV_ADDR: '10.0.0.1:9876' });
    expect(options).toMatchObject({ nameservers: '10.0.0.1:9876', topic: 'BenchmarkTest', size: 128, concurrency: 64, batch: 1, autoBatch: false, count: undefined, transport: 'tcp', tags: 0, delayLevel: 0 });
    expect(producerOptions(parseFlags('producer', ['-q', '1_000_000', '--tags', '4', '--keys', '--topics', '1000']), { NAMESRV_ADDR: 'h:1' })).toMatchObject({ count: 1_000_000, tags: 4, keys: true, topics: 1000 });
  });

  it('parses compare options, and refuses an unknown system in --only', async () => {
    expect(compareOptions(parseFlags('compare', []))).toEqual({ count: 200_000, size: 1024, latencyCount: 2_000, systems: ['karman', 'rocketmq', 'nats', 'redis', 'rabbitmq'], out: undefined, transport: 'tcp', json: false });
    expect(compareOptions(parseFlags('compare', ['--only', 'Redis, karman', '--count', '10']))).toMatchObject({ systems: ['karman', 'redis'], count: 10 });
    expect((await cli(['compare', '--only', 'kafka'])).err).toContain('--only "kafka" names an unknown system "kafka": give a comma-separated list of karman, rocketmq, nats, redis, rabbitmq');
  });

  it('parses rocketmq-benchmark options with the benchmark tools\' defaults, and refuses an unknown broker', async () => {
    expect(rocketmqBenchmarkOptions(parseFlags('rocketmq-benchmark', []))).toEqual({ brokers: ['karman', 'rocketmq'], seconds: 60, count: undefined, threads: 64, size: 1024, consumerThreads: 20, consumeSeconds: 180, json: false });
    expect(rocketmqBenchmarkOptions(parseFlags('rocketmq-benchmark', ['--only', 'rocketmq', '-q', '50000', '-w', '8']))).toMatchObject({ brokers: ['rocketmq'], count: 50_000, threads: 8 });
    expect((await cli(['rocketmq-benchmark', '--only', 'kafka'])).err).toContain('--only "kafka" names an unknown broker "kafka": give a comma-separated list of karman, rocketmq');
    expect((await cli(['rocketmq-benchmark', '--help'])).out).toContain('--consume-seconds S');
  });

  it('exits 1 with the reason when the cluster cannot be reached', async () => {
    const result = await cli(['producer', '-n', '127.0.0.1:1', '-q', '1', '--json']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^karman-bench producer: 1 failed sends\n$/m);
  });
});
