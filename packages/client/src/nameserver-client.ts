/**
 * Talks to one nameserver at a time out of a list (RocketMQ `NettyRemotingClient`): start at a
 * random index, stay while it answers, and on a connection failure or timeout move to the next and
 * try the rest of the list before giving up. The failed nameserver's connection keeps reconnecting
 * in the background, so a later rotation back to it is cheap.
 */
import { ConnectionClosedError, RemotingClient, RequestTimeoutError } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';

export interface NameServerClientOptions {
  /** `ws` (default) or `tcp` for addresses given as plain `host:port`. */
  transport: 'ws' | 'tcp';
  requestTimeoutMillis: number;
  /** Called when the client moves to another nameserver. */
  onSwitch?: (from: string, to: string, reason: string) => void;
}

export class NameServerClient {
  private readonly clients: RemotingClient[];
  private index: number;

  constructor(
    readonly addresses: readonly string[],
    private readonly options: NameServerClientOptions,
  ) {
    this.clients = addresses.map((address) => new RemotingClient(withScheme(address, options.transport), { requestTimeoutMillis: options.requestTimeoutMillis }));
    this.index = Math.floor(Math.random() * 999);
  }

  /** The nameserver in use now. */
  get current(): string {
    return this.addresses[this.index % this.addresses.length]!;
  }

  /**
   * Send a request to the current nameserver, rotating through the list on transport failures.
   * Server answers (any response code) are returned as they are; only when no nameserver could be
   * reached does this throw, with every address and the last reason.
   */
  async request(command: RemotingCommand, timeoutMillis?: number): Promise<RemotingCommand> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.clients.length; attempt++) {
      const client = this.clients[this.index % this.clients.length]!;
      try {
        return await client.request({ ...command }, timeoutMillis === undefined ? undefined : { timeoutMillis });
      } catch (error) {
        if (!(error instanceof ConnectionClosedError) && !(error instanceof RequestTimeoutError)) throw error;
        lastError = error;
        const from = this.current;
        this.index = (this.index + 1) % (this.clients.length * 1000);
        if (this.clients.length > 1) this.options.onSwitch?.(from, this.current, (error as Error).message);
      }
    }
    throw new ConnectionClosedError(this.addresses.join(';'), `no nameserver answered (${(lastError as Error | undefined)?.message ?? 'no address'})`, lastError);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

/** `host:port` → the transport's URL; explicit `ws://` or `tcp://` addresses are kept. */
export function withScheme(address: string, transport: 'ws' | 'tcp'): string {
  return address.includes('://') ? address : `${transport}://${address}`;
}
