/**
 * karman-admin as a function: `run(argv, io)` parses `<command> [flags]`, runs the command against
 * the nameservers given with `-n` (or `NAMESRV_ADDR`, as mqadmin reads it) and returns the exit
 * code, writing only to the injected streams, so tests call it in-process and `main.ts` is three
 * lines.
 *
 * Exit codes: 0 success; 1 the command failed (one line on stderr: `karman-admin <command>:
 * <reason>`); 2 bad command line (unknown command or flag, missing or malformed value).
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@karman/protocol';
import { AdminClient } from './admin-client.js';
import { clusterCommands } from './cluster-commands.js';
import type { Command, CommandContext, FlagSpec } from './command.js';
import { groupCommands } from './group-commands.js';
import { messageCommands } from './message-commands.js';
import { storeCommands } from './store-commands.js';
import { topicCommands } from './topic-commands.js';

/** Where the CLI writes, and what it reads from its environment. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Environment; `NAMESRV_ADDR` is the default for -n. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Clock for `-s now` and the like (Date.now). */
  now?: () => number;
}

/** Every command, in the order `karman-admin --help` lists them. */
export const commands: readonly Command[] = [...topicCommands, ...clusterCommands, ...groupCommands, ...messageCommands, ...storeCommands];

const COMMON_FLAGS: readonly FlagSpec[] = [
  { long: 'namesrvAddr', short: 'n', type: 'string', description: 'Nameserver addresses, host:port separated by ";" (default: $NAMESRV_ADDR).' },
  { long: 'json', type: 'boolean', description: 'Print the result as JSON, for scripts.' },
  { long: 'help', short: 'h', type: 'boolean', description: 'Print this help.' },
];

function flagLine(flag: FlagSpec): string {
  const names = `${flag.short ? `-${flag.short}, ` : '    '}--${flag.long}${flag.type === 'string' ? ' VALUE' : ''}`;
  const extra = [flag.required ? 'required' : '', flag.defaultText ? `default: ${flag.defaultText}` : ''].filter(Boolean).join('; ');
  return `  ${names.padEnd(34)} ${flag.description}${extra ? ` (${extra})` : ''}`;
}

/** `karman-admin --help`: the command list. */
function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: karman-admin <command> -n HOST:PORT[;HOST:PORT] [flags] [--json]',
    '',
    'An mqadmin-style tool for Karman clusters: RocketMQ command and flag names, human tables by',
    'default, JSON with --json. `karman-admin <command> --help` lists a command\'s flags.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/** `karman-admin <command> --help`. */
function commandHelp(command: Command): string {
  return [
    `Usage: karman-admin ${command.name} -n HOST:PORT [flags]`,
    '',
    command.summary,
    '',
    'Flags:',
    ...command.flags.map(flagLine),
    ...COMMON_FLAGS.map(flagLine),
    '',
    `Example: ${command.example}`,
    '',
  ].join('\n');
}

/** Run one karman-admin command line; resolves to the process exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name) ?? commands.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!command) {
    io.stderr.write(`karman-admin: unknown command "${name}"; run karman-admin --help for the list\n`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
    for (const flag of [...command.flags, ...COMMON_FLAGS]) options[flag.long] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
    values = parseArgs({ args: [...rest], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    io.stderr.write(`karman-admin ${command.name}: ${firstLine((error as Error).message)}; run karman-admin ${command.name} --help\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  const missing = command.flags.filter((f) => f.required && (values[f.long] === undefined || values[f.long] === ''));
  if (missing.length > 0) {
    io.stderr.write(`karman-admin ${command.name}: missing ${missing.map((f) => (f.short ? `-${f.short} (--${f.long})` : `--${f.long}`)).join(', ')}; run karman-admin ${command.name} --help\n`);
    return 2;
  }
  const namesrv = typeof values.namesrvAddr === 'string' ? values.namesrvAddr : io.env?.NAMESRV_ADDR;
  const nameservers = (namesrv ?? '').split(';').map((a) => a.trim()).filter(Boolean);
  if (nameservers.length === 0 && !command.offline?.(values)) {
    io.stderr.write(`karman-admin ${command.name}: no nameserver given; pass -n HOST:PORT (for example -n 127.0.0.1:9876) or set NAMESRV_ADDR\n`);
    return 2;
  }
  const admin = new AdminClient(nameservers);
  const context: CommandContext = {
    flags: values,
    admin,
    warn: (line) => void io.stderr.write(`karman-admin ${command.name}: warning: ${line}\n`),
    now: io.now ?? Date.now,
  };
  try {
    const result = await command.run(context);
    io.stdout.write(values.json ? `${JSON.stringify(result.value, null, 2)}\n` : result.text);
    return result.exitCode ?? 0;
  } catch (error) {
    io.stderr.write(`karman-admin ${command.name}: ${firstLine((error as Error).message)}\n`);
    return error instanceof InvalidArgumentError ? 2 : 1;
  } finally {
    await admin.close();
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
