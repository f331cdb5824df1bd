/**
 * karman-nameserver: runs one `NameServer` as a process. Logs are pino JSON lines on stdout; the
 * first `info` line after start is `{"msg":"karman-nameserver listening","host":..,"port":..}`.
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 on a failure to start or stop, 2 on bad
 * flags or options.
 */
import { pino } from 'pino';
import { NameServer } from '@karman/nameserver';
import { helpText, parseCommandLine } from './cli.js';

async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = await parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`karman-nameserver: ${(error as Error).message}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  // Synchronous stdout: a nameserver logs little, and every line (the last ones before exit too)
  // must come out, in order.
  const log = pino({ name: 'karman-nameserver', level: command.logLevel }, pino.destination({ dest: 1, sync: true }));
  const nameServer = new NameServer({
    ...command.config,
    onEvent: (event) => {
      if (event.type === 'broker_removed') log.info({ ...event.removal }, 'broker removed');
      else if (event.type === 'config_updated') log.info({ changes: event.changes }, 'config updated');
    },
    // Closed connections and refused frames: worth seeing, never fatal.
    onError: (error, connection) => log.warn({ err: error, peer: connection?.remoteAddress }, 'connection problem'),
  });
  try {
    const { host, port } = await nameServer.start();
    log.info({ host, port, dataDir: command.config.dataDir ?? null }, 'karman-nameserver listening');
  } catch (error) {
    log.fatal({ err: error }, 'karman-nameserver failed to start');
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      nameServer.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'failed to stop cleanly');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Open handles (a client still connected) must not keep a stopped server alive.
    setImmediate(() => process.exit(code)).unref();
  },
  (error: unknown) => {
    process.stderr.write(`karman-nameserver: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
