/**
 * One ali-ons client process, driven from a test: it runs `ali-ons-agent.mjs` with plain node,
 * HOME set to a fresh temporary folder (ali-ons keeps broadcast offsets under ~), and a hard
 * timeout after which the process is killed whatever it is doing, because ali-ons never lets its
 * process exit after close() (an ali-ons defect: its timers keep the process alive). Commands and replies are JSON
 * lines; see the agent's header for the wire.
 *
 * `await using client = await AliOnsProcess.start({ namesrvAddr })` kills it on dispose.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import { LoggedProcess } from '@karman/testkit';
import type { LogLine } from '@karman/testkit';

/** The agent script; found from src/ and from dist/ alike (it is plain JavaScript, never built). */
const AGENT = fileURLToPath(new URL('../src/ali-ons-agent.mjs', import.meta.url));

const AliOnsProcessOptionsSchema = z.object({
  /** The nameserver, `host:port`, given to every client as `nameSrv`. */
  namesrvAddr: z.string().regex(/^[^:\s]+:\d+$/, 'namesrvAddr must be host:port, e.g. 127.0.0.1:9876'),
  /** Name in errors and logs. */
  name: z.string().default('ali-ons'),
  /** The process is SIGKILLed this long after start, whatever happens (60 s). */
  hardTimeoutMillis: z.number().int().positive().default(60_000),
  /** How long one command may take before its promise rejects (20 s). */
  commandTimeoutMillis: z.number().int().positive().default(20_000),
  /**
   * ali-ons options given to every producer and consumer of this process ({}). Clients of one
   * process share one MQClient built from the first client's options, so client-wide intervals
   * (rebalanceInterval, heartbeatBrokerInterval, ...) belong here rather than on one client.
   */
  clientDefaults: z.record(z.string(), z.unknown()).default({}),
});

/** Options of `AliOnsProcess.start`; each has a default except `namesrvAddr`. */
export type AliOnsProcessOptions = z.input<typeof AliOnsProcessOptionsSchema>;

/** A message to send through an ali-ons producer. `body` is text (UTF-8) or bytes. */
export interface AliOnsMessage {
  topic: string;
  body: string | Uint8Array;
  tags?: string;
  keys?: string[];
  shardingKey?: string;
  delayTimeLevel?: number;
  properties?: Record<string, string>;
}

/** What `producer.send` resolved to, as ali-ons reports it. */
export interface AliOnsSendResult {
  sendStatus: string;
  msgId: string;
  queueId: number;
  queueOffset: number;
  /** Wall clock in the client process when send resolved. */
  sentAt: number;
}

/** A message as an ali-ons consumer handler saw it. */
export interface AliOnsReceived {
  consumer: string;
  msgId: string;
  /** The topic after ali-ons restored a retried message's original topic. */
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  tags: string | null;
  keys: string | null;
  properties: Record<string, string>;
  body: Buffer;
  reconsumeTimes: number;
  originMessageId: string | null;
  retryTopic: string | null;
  bornTimestamp: number;
  storeTimestamp: number;
  storeHost: string;
  /** Wall clock in the client process when the handler ran. */
  receivedAt: number;
}

/** A consumer's subscription: `expression` is `*` or `TagA || TagB`; `retry` refuses each body once. */
export interface AliOnsSubscription {
  topic: string;
  expression?: string;
  /** `action`: return ACTION_RETRY on a body's first delivery; `throw`: throw from the handler. */
  retry?: 'action' | 'throw';
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class AliOnsProcess implements AsyncDisposable {
  /** Every message every consumer of this process handled, in order. */
  readonly received: AliOnsReceived[] = [];
  /** The client's `error` events and warn/error log lines, for diagnosis. */
  readonly clientErrors: string[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private seen = 0;
  private readonly hardTimer: NodeJS.Timeout;

  private constructor(
    private readonly options: z.output<typeof AliOnsProcessOptionsSchema>,
    private readonly child: LoggedProcess,
    private readonly home: string,
  ) {
    this.hardTimer = setTimeout(() => void this.child.kill(), options.hardTimeoutMillis);
    this.hardTimer.unref();
    const stdout = child.child.stdout!;
    stdout.on('data', () => this.drain());
    void child.exited.then(({ code, signal }) => {
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new KarmanError('ALI_ONS_EXITED', `${this.options.name} exited (${code ?? signal}) before answering command ${id}; stderr: ${child.stderr()}`));
      }
      this.pending.clear();
      rmSync(this.home, { recursive: true, force: true });
    });
  }

  /** Start the process and wait until the agent has loaded ali-ons. */
  static async start(input: AliOnsProcessOptions): Promise<AliOnsProcess> {
    const parsed = AliOnsProcessOptionsSchema.safeParse(input);
    if (!parsed.success) throw new InvalidArgumentError(`AliOnsProcess options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const options = parsed.data;
    const home = mkdtempSync(join(tmpdir(), 'karman-ali-ons-home-'));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, KARMAN_NAMESRV: options.namesrvAddr, KARMAN_ALI_ONS_DEFAULTS: JSON.stringify(options.clientDefaults) };
    const child = LoggedProcess.spawn(options.name, [AGENT], { cwd: dirname(AGENT), env, stdin: true });
    const client = new AliOnsProcess(options, child, home);
    try {
      await child.waitForLine((l) => l.event === 'ready', 'the agent\'s ready line', 15_000);
    } catch (error) {
      await client.kill();
      throw error;
    }
    return client;
  }

  /** Create a producer; `options` are ali-ons Producer options (producerGroup, ...). */
  async producer(name: string, options: Record<string, unknown>): Promise<void> {
    await this.command('producer', { name, options });
  }

  async send(producer: string, message: AliOnsMessage): Promise<AliOnsSendResult> {
    const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : Buffer.from(message.body);
    return (await this.command('send', { producer, message: { ...message, body: body.toString('base64') } })) as AliOnsSendResult;
  }

  /** Create a push consumer and wait for ready(); `options` are ali-ons Consumer options. */
  async consumer(name: string, options: Record<string, unknown>, subscriptions: AliOnsSubscription[]): Promise<void> {
    await this.command('consumer', { name, options, subscriptions });
  }

  /** Queue ids of `topic` the consumer pulls from now (its rebalance result). */
  async queues(consumer: string, topic: string): Promise<number[]> {
    return (await this.command('queues', { consumer, topic })) as number[];
  }

  /** close() a producer or consumer: it persists offsets and sends UNREGISTER_CLIENT. */
  async close(name: string): Promise<void> {
    await this.command('close', { name });
  }

  /** Messages received so far for which `match` holds. */
  messages(match: (m: AliOnsReceived) => boolean = () => true): AliOnsReceived[] {
    return this.received.filter(match);
  }

  /**
   * Wait until at least `count` received messages satisfy `match`; rejects after `timeoutMillis`
   * naming how many arrived.
   */
  async waitForMessages(count: number, match: (m: AliOnsReceived) => boolean = () => true, timeoutMillis = 20_000): Promise<AliOnsReceived[]> {
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const found = this.messages(match);
      if (found.length >= count) return found;
      if (!this.child.running) throw new KarmanError('ALI_ONS_EXITED', `${this.options.name} exited with ${found.length} of ${count} messages; stderr: ${this.child.stderr()}`);
      if (Date.now() > deadline) {
        throw new KarmanError('ALI_ONS_TIMEOUT', `${this.options.name}: ${found.length} of ${count} expected messages within ${timeoutMillis} ms; client errors: ${this.clientErrors.slice(-5).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Wait until the consumer reports owning exactly `queueIds` of `topic` after a rebalance. */
  async waitForQueues(consumer: string, topic: string, queueIds: number[], timeoutMillis = 20_000): Promise<void> {
    const want = [...queueIds].sort((a, b) => a - b).join(',');
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const last = await this.queues(consumer, topic);
      if (last.join(',') === want) return;
      if (Date.now() > deadline) throw new KarmanError('ALI_ONS_TIMEOUT', `${consumer} owns queues [${last.join(',')}] of ${topic}, not [${want}], after ${timeoutMillis} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL the process (the only way it ends) and remove its HOME. */
  async kill(): Promise<void> {
    clearTimeout(this.hardTimer);
    this.child.child.stdin?.destroy();
    await this.child.kill();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  private command(op: string, fields: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new KarmanError('ALI_ONS_TIMEOUT', `${this.options.name}: "${op}" got no answer within ${this.options.commandTimeoutMillis} ms; client errors: ${this.clientErrors.slice(-5).join(' | ')}`));
      }, this.options.commandTimeoutMillis);
      this.pending.set(id, { resolve, reject, timer });
      this.child.child.stdin!.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
  }

  /** Turn new stdout lines into replies, received messages and client errors. */
  private drain(): void {
    const lines = this.child.lines;
    for (; this.seen < lines.length; this.seen++) this.handle(lines[this.seen]!);
  }

  private handle(line: LogLine): void {
    if (typeof line.reply === 'number') {
      const pending = this.pending.get(line.reply);
      if (!pending) return;
      this.pending.delete(line.reply);
      clearTimeout(pending.timer);
      if (line.ok === true) pending.resolve(line.value);
      else pending.reject(new KarmanError('ALI_ONS_COMMAND_FAILED', `${this.options.name}: ${String(line.error)}`));
      return;
    }
    if (line.event === 'message') {
      const raw = line.message as Omit<AliOnsReceived, 'consumer' | 'body'> & { body: string };
      this.received.push({ ...raw, consumer: String(line.consumer), body: Buffer.from(raw.body, 'base64') });
    } else if (line.event === 'error' || line.event === 'log') {
      this.clientErrors.push(String(line.error ?? line.text));
    }
  }
}
