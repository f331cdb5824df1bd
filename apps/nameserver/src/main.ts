/**
 * karman-nameserver: runs one `NameServer` as a process. Logs are pino JSON lines on stdout; the
 * first `info` line after start is `{"msg":"karman-nameserver listening","host":..,"port":..}`.
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 on a failure to start or stop, 2 on bad
 * flags or options.
 */
import { pino } from 'pino';
import { NameServer } from '@karman/nameserver';
import { runMain, serveUntilSignal } from '@karman/server-runtime';
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
      else if (event.type === 'registration_entries_skipped') log.warn({ brokerName: event.brokerName, brokerAddr: event.brokerAddr, skipped: event.skipped.slice(0, 20), count: event.skipped.length }, 'registration entries left out of the routes');
    },
    // Closed connections and refused frames: worth seeing, never fatal.
    onError: (error, connection) => log.warn({ err: error, peer: connection?.remoteAddress }, 'connection problem'),
  });
  return serveUntilSignal({
    name: 'karman-nameserver',
    log,
    start: async () => {
      const bound = await nameServer.start();
      return { ...bound, nameServer };
    },
    started: ({ host, port }) => log.info({ host, port, dataDir: command.config.dataDir ?? null }, 'karman-nameserver listening'),
    stop: ({ nameServer: server }) => server.close(),
  });
}

runMain('karman-nameserver', () => main(process.argv.slice(2)));
