/**
 * What a karman-admin command is: a RocketMQ mqadmin sub-command name, its flags
 * with mqadmin's one-letter names and long names, and a function from parsed flags to a result that
 * prints as a human table or, with `--json`, as JSON. Flag values are text as on mqadmin's command
 * line (`-o true`, `-p 6`); the helpers here turn them into numbers and booleans with an error that
 * names the flag and what to give.
 */
import { InvalidArgumentError } from '@karman/protocol';
import type { AdminClient } from './admin-client.js';

/** One flag of a command. */
export interface FlagSpec {
  /** mqadmin's long name, also the key in `flags`. */
  long: string;
  /** mqadmin's one-letter name. */
  short?: string;
  /** `string` takes a value; `boolean` is a switch. */
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help; applied by the command. */
  defaultText?: string;
  required?: boolean;
}

/** What a command returns: the text to print, and the value `--json` prints instead. */
export interface CommandResult {
  text: string;
  value: unknown;
  /** Non-zero when the command ran but what it reports is a failure (e.g. one nameserver refused). */
  exitCode?: number;
}

export interface CommandContext {
  flags: Readonly<Record<string, string | boolean | undefined>>;
  admin: AdminClient;
  /** Where warnings go (stderr), so stdout stays the result. */
  warn(line: string): void;
  /** The clock, for time flags like `-s now`. */
  now(): number;
}

export interface Command {
  name: string;
  summary: string;
  flags: readonly FlagSpec[];
  /** An example command line, shown in help and the README. */
  example: string;
  /** True when, with these flags, the command needs no nameserver (it works on local files). */
  offline?(flags: Readonly<Record<string, string | boolean | undefined>>): boolean;
  run(context: CommandContext): Promise<CommandResult>;
}

/** The flag's text, or an error naming the flag when it is required and missing. */
export function stringFlag(context: CommandContext, name: string, required: true): string;
export function stringFlag(context: CommandContext, name: string, required?: boolean): string | undefined;
export function stringFlag(context: CommandContext, name: string, required = false): string | undefined {
  const value = context.flags[name];
  if (typeof value === 'string' && value !== '') return value;
  if (required) throw new InvalidArgumentError(`--${name} is required`);
  return undefined;
}

/** An integer flag within [min, max], or its default. */
export function intFlag(context: CommandContext, name: string, fallback: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = stringFlag(context, name, fallback === undefined);
  if (text === undefined) return fallback!;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`--${name} ${JSON.stringify(text)} is not an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'up' : max}`);
  }
  return value;
}

/** A `true`/`false` flag as mqadmin takes them (`-o true`), or its default. */
export function boolFlag(context: CommandContext, name: string, fallback: boolean): boolean {
  const value = context.flags[name];
  if (typeof value === 'boolean') return value;
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError(`--${name} ${JSON.stringify(value)} is neither true nor false`);
}

/**
 * A point in time as mqadmin's `-s` takes it: `now`, epoch milliseconds, or
 * `yyyy-MM-dd#HH:mm:ss:SSS` in local time (RocketMQ `ResetOffsetByTimeCommand`); an ISO-8601 date
 * is accepted too.
 */
export function parseTime(text: string, now: number, flag: string): number {
  if (text === 'now') return now;
  if (/^\d+$/.test(text)) return Number(text);
  const rocket = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2}):(\d{3})$/.exec(text);
  if (rocket) {
    const [y, mo, d, h, mi, s, ms] = rocket.slice(1).map(Number) as [number, number, number, number, number, number, number];
    return new Date(y, mo - 1, d, h, mi, s, ms).getTime();
  }
  const iso = Date.parse(text);
  if (!Number.isNaN(iso) && /^\d{4}-\d{2}-\d{2}/.test(text)) return iso;
  throw new InvalidArgumentError(`--${flag} ${JSON.stringify(text)} is not a time: give now, epoch milliseconds, yyyy-MM-dd#HH:mm:ss:SSS or an ISO-8601 date`);
}
