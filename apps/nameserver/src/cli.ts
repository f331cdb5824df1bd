/**
 * karman-nameserver's command line: flags, config files and `--set`, merged into the nameserver's
 * options. Later sources win: defaults, then `-c FILE`, then `--listen` / `--data-dir`, then each
 * `--set key=value` in order. Every option is checked by the nameserver's one schema, so a typo or a
 * bad value stops the process with a message naming it.
 */
import { parseArgs } from 'node:util';
import { LOG_LEVELS, parseLogLevel } from '@karman/server-runtime';
import type { LogLevel } from '@karman/server-runtime';
import { InvalidArgumentError, applySetFlags, readConfigFile, splitListenAddress } from '@karman/protocol';
import { NameServerOptionsSchema, nameServerOptionNames, resolveNameServerOptions } from '@karman/nameserver';
import type { NameServerConfig } from '@karman/nameserver';

/** Log levels pino knows. */

/** What the command line asks for. */
export type CliCommand = { kind: 'help' } | { kind: 'run'; config: NameServerConfig; logLevel: LogLevel };

/** The usage text, listing every flag and every option with its default. */
export function helpText(): string {
  const defaults = resolveNameServerOptions({});
  const width = Math.max(...nameServerOptionNames.map((name) => name.length));
  const options = nameServerOptionNames.map((name) => {
    const value = defaults[name];
    const description = NameServerOptionsSchema.shape[name].description ?? '';
    return `  ${name.padEnd(width)}  ${description} (default: ${value === undefined ? 'unset' : String(value)})`;
  });
  return [
    'Usage: karman-nameserver [flags]',
    '',
    'The Karman nameserver: the RocketMQ routing registry brokers register with and clients query.',
    'Serves remoting TCP, WebSocket and GET /health on one port.',
    '',
    'Flags:',
    '  --listen HOST:PORT   Address to listen on (default: 0.0.0.0:9876); sets bindAddress and listenPort.',
    '  --data-dir DIR       Folder for kvConfig.json (default: unset, KV config in memory only); sets dataDir.',
    '  -c, --config FILE    Read options from a RocketMQ-style .properties file, or JSON when FILE ends in .json.',
    '  --set KEY=VALUE      Set any option below; repeatable; applied after the other flags.',
    `  --log-level LEVEL    One of ${LOG_LEVELS.join(', ')} (default: info).`,
    '  -h, --help           Print this help and exit.',
    '',
    'Options (for -c and --set):',
    ...options,
    '',
    'Stops gracefully on SIGTERM or SIGINT.',
    '',
  ].join('\n');
}

/** Split "HOST:PORT" (IPv6 in brackets). */
export function parseListen(value: string): { bindAddress: string; listenPort: string } {
  const { host, port } = splitListenAddress(value, '0.0.0.0:9876 or [::1]:9876');
  return { bindAddress: host, listenPort: port };
}

/** Turn argv (without node and the script) into what to do. Throws `InvalidArgumentError` on bad input. */
export async function parseCommandLine(argv: readonly string[]): Promise<CliCommand> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'data-dir': { type: 'string' },
        config: { type: 'string', short: 'c' },
        set: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}; run karman-nameserver --help for the flags`);
  }
  const { values } = parsed;
  if (values.help) return { kind: 'help' };
  const logLevel = parseLogLevel(values['log-level']);

  let options: Record<string, unknown> = {};
  if (values.config !== undefined) options = { ...(await readConfigFile(values.config)) };
  if (values.listen !== undefined) options = { ...options, ...parseListen(values.listen) };
  if (values['data-dir'] !== undefined) options = { ...options, dataDir: values['data-dir'] };
  options = applySetFlags(options, values.set ?? []);
  return { kind: 'run', config: resolveNameServerOptions(options), logLevel };
}
