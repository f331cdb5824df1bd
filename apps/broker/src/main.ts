/**
 * karman-broker: runs one `Broker` as a process. Logs are pino JSON lines on stdout; once the
 * broker serves, it logs `{"msg":"karman-broker listening","host":..,"port":..,"address":..}` where
 * `port` is the bound port (useful with `--listen HOST:0`) and `address` is what it advertises.
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 on a failure to start or stop, 2 on bad
 * flags or options.
 */
import { pino } from 'pino';
import { Broker } from '@karman/broker';
import type { BrokerLogger } from '@karman/broker';
import { helpText, parseCommandLine } from './cli.js';

async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = await parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`karman-broker: ${(error as Error).message}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  const log = pino({ name: 'karman-broker', level: command.logLevel });
  const logger: BrokerLogger = (level, message, fields) => log[level](fields ?? {}, message);

  // Signals that arrive while starting are honoured once the broker is up (or has failed).
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const signalHandler = (signal: NodeJS.Signals): void => {
    if (onSignal) onSignal(signal);
    else signalled ??= signal;
  };
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);

  let broker: Broker;
  try {
    broker = await Broker.start({ ...command.options, logger });
  } catch (error) {
    log.fatal({ err: error }, 'karman-broker failed to start');
    return 1;
  }
  const { config } = broker;
  log.info(
    {
      host: config.listenHost,
      port: broker.port,
      address: broker.address,
      brokerName: config.brokerName,
      brokerId: config.brokerId,
      role: config.brokerRole,
      cluster: config.brokerClusterName,
      store: config.storePathRootDir,
      namesrv: config.namesrvAddr || null,
    },
    'karman-broker listening',
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      broker.close().then(
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
    if (signalled) onSignal(signalled);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Open handles (a client still connected) must not keep a stopped broker alive.
    setImmediate(() => process.exit(code)).unref();
  },
  (error: unknown) => {
    process.stderr.write(`karman-broker: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
