/**
 * karman-broker: runs one `Broker` as a process. Logs are pino JSON lines on stdout; once the
 * broker serves, it logs `{"msg":"karman-broker listening","host":..,"port":..,"address":..}` where
 * `port` is the bound port (useful with `--listen HOST:0`) and `address` is what it advertises.
 * Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 on a failure to start or stop, 2 on bad
 * flags or options.
 */
import { pino } from 'pino';
import { Broker } from '@karman/broker';
import { runMain, serveUntilSignal } from '@karman/server-runtime';
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

  return serveUntilSignal({
    name: 'karman-broker',
    log,
    start: () => Broker.start({ ...command.options, logger }),
    started: (broker) => {
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
    },
    stop: (broker) => broker.close(),
  });
}

runMain('karman-broker', () => main(process.argv.slice(2)));
