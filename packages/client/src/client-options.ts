/**
 * Options every client (producer, consumer) shares, with RocketMQ's `ClientConfig` names and
 * defaults. One zod schema is the source of their types and defaults.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '@karman/protocol';

export const ClientOptionsSchema = z.object({
  /** Nameserver addresses: an array, or one string separated by `;` (RocketMQ's `namesrvAddr`). */
  nameservers: z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : v.split(';')).map((a) => a.trim()).filter(Boolean)),
  /** Instance name; `DEFAULT` becomes `<pid>#<nanotime>` so two clients in one process stay apart. */
  instanceName: z.string().min(1).default('DEFAULT'),
  /** IP reported in the client id; defaults to this host's first non-internal IPv4 address. */
  clientIP: z.string().optional(),
  /** Unit name appended to the client id when set. */
  unitName: z.string().optional(),
  /**
   * Transport for `host:port` addresses: `tcp` (RocketMQ's remoting TCP, which Apache RocketMQ's
   * nameserver and broker speak as well as Karman's) or `ws` (WebSocket, which only Karman's servers
   * speak, for browsers and HTTP-only proxies). `tcp://` and `ws://` addresses choose for themselves.
   */
  transport: z.enum(['ws', 'tcp']).default('tcp'),
  /**
   * Header serialization of requests to brokers: `JSON` (what Java clients send by default) or
   * `ROCKETMQ` (RocketMQ's binary `RocketMQSerializable`, which Java brokers also read and answer
   * in kind; Karman's codec encodes and decodes it several times faster than JSON).
   */
  serializeType: z.enum(['JSON', 'ROCKETMQ']).default('ROCKETMQ'),
  /** How often routes of every used topic are refreshed (`pollNameServerInterval`, 30 s). */
  pollNameServerInterval: z.number().int().min(1).default(30_000),
  /** How often every broker gets a heartbeat (`heartbeatBrokerInterval`, 30 s). */
  heartbeatBrokerInterval: z.number().int().min(1).default(30_000),
  /** Timeout of nameserver and admin requests (3 s). */
  requestTimeoutMillis: z.number().int().min(1).default(3_000),
});

export type ClientOptions = z.input<typeof ClientOptionsSchema>;
export type ResolvedClientOptions = z.output<typeof ClientOptionsSchema>;

/** Apply defaults without mutating the input; the error names the bad option and the fix. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const parsed = ClientOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`invalid client option ${issue.path.join('.') || '(options)'}: ${issue.message}`);
  }
  if (parsed.data.nameservers.length === 0) {
    throw new InvalidArgumentError('no nameserver given: set `nameservers` to "host:port" or a list of them (e.g. "127.0.0.1:9876")');
  }
  return parsed.data;
}
