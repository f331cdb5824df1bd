/** One established connection of a `RemotingServer`: answers, server-to-client requests and idle close. */
import { InvalidArgumentError, KarmanError } from './errors.js';
import type { FrameChannel, Transport } from './frame-channel.js';
import { FLAG_ONEWAY, isOneway, isResponse } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';
import type { Responder } from './request-dispatch.js';
import { RequestTable } from './request-table.js';
import type { ServerConnection } from './server-options.js';

export class RemotingServerConnection implements ServerConnection, Responder {
  readonly id: number;
  readonly requests: RequestTable;
  /** Requests of this peer whose handler has not finished (see maxInFlightRequestsPerConnection). */
  inFlight = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    id: number,
    readonly channel: FrameChannel,
    private readonly defaultTimeoutMillis: number,
    private readonly report: (error: Error, connection: ServerConnection) => void,
  ) {
    this.id = id;
    this.requests = new RequestTable(() => channel.remoteAddress);
  }

  sendResponse(response: RemotingCommand): void {
    this.channel.send(response);
  }

  reportError(error: Error): void {
    this.report(error, this);
  }

  get transport(): Transport {
    return this.channel.transport;
  }

  get remoteAddress(): string {
    return this.channel.remoteAddress;
  }

  get closed(): boolean {
    return this.channel.closed;
  }

  request(command: RemotingCommand, timeoutMillis = this.defaultTimeoutMillis): Promise<RemotingCommand> {
    if (isResponse(command) || isOneway(command)) {
      return Promise.reject(new InvalidArgumentError('ServerConnection.request() takes a two-way request; use oneway() for a oneway command'));
    }
    const response = this.requests.add(command, timeoutMillis);
    try {
      this.channel.send(command);
    } catch (error) {
      this.requests.reject(command.opaque, error as Error);
    }
    return response;
  }

  oneway(command: RemotingCommand): void {
    this.channel.send(isOneway(command) ? command : { ...command, flag: command.flag | FLAG_ONEWAY });
  }

  close(reason = 'closed by the server'): void {
    this.channel.close(reason);
  }

  /** Close the connection once it has been idle for `idleMillis`, checking only when it could be due. */
  watchIdle(idleMillis: number): void {
    const check = (): void => {
      if (this.channel.closed) return;
      const idle = Date.now() - this.channel.lastActivity;
      if (idle >= idleMillis) {
        this.channel.close(`idle for ${idle} ms (idleTimeoutMillis ${idleMillis})`, new KarmanError('IDLE_TIMEOUT', `connection idle for ${idle} ms`));
        return;
      }
      this.idleTimer = setTimeout(check, idleMillis - idle);
      this.idleTimer.unref();
    };
    this.idleTimer = setTimeout(check, idleMillis);
    this.idleTimer.unref();
  }

  stopWatchingIdle(): void {
    clearTimeout(this.idleTimer);
  }
}
