/**
 * RocketMQ-style `.properties` text, the format of `namesrv.properties`, of UPDATE_NAMESRV_CONFIG's
 * body and of GET_NAMESRV_CONFIG's answer (RocketMQ's `MixAll.string2Properties` /
 * `properties2String`, which use `java.util.Properties`).
 *
 *   # comment            ! comment
 *   key=value            key: value            key value
 *
 * Keys and values are trimmed; a line ending in an odd number of backslashes continues on the next
 * line; `\n`, `\t`, `\\`, `\=`, `\:` and `\uXXXX` escapes are read as Java reads them.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from './errors.js';

function unescape(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escape: string) => {
    if (escape.startsWith('u') && escape.length === 5) return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (escape === 'n') return '\n';
    if (escape === 't') return '\t';
    if (escape === 'r') return '\r';
    if (escape === 'f') return '\f';
    return escape;
  });
}

function continues(line: string): boolean {
  let backslashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** Parse properties text into key → value (later keys win, as in Java). */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (continues(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    // The key ends at the first unescaped '=', ':' or whitespace.
    const match = /^((?:\\.|[^=:\s\\])*)\s*[=:]?\s*(.*)$/.exec(line);
    if (!match) continue;
    const key = unescape(match[1]!);
    if (key === '') continue;
    out[key] = unescape(match[2]!.trimEnd());
  }
  return out;
}

function escapeText(text: string, isKey: boolean): string {
  let out = text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  if (isKey) out = out.replace(/([=: ])/g, '\\$1');
  return out;
}

/** Write key → value as properties text, one `key=value` line each, keys sorted. */
export function formatProperties(values: Record<string, unknown>): string {
  return Object.keys(values)
    .sort()
    .filter((key) => values[key] !== undefined)
    .map((key) => `${escapeText(key, true)}=${escapeText(String(values[key]), false)}`)
    .join('\n') + '\n';
}

/**
 * Read a server's config file: `.json` holds an object of options, anything else is RocketMQ
 * `.properties` text (`broker.conf`, `namesrv.properties`). Values stay as written (strings from
 * properties); each server's option schema coerces them. Errors name the file and the fix.
 */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (path.endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new InvalidArgumentError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`config file ${path} must hold a JSON object of options`);
    return { ...(parsed as Record<string, unknown>) };
  }
  return { ...parseProperties(text) };
}

/** Split a `--listen` value "HOST:PORT" (IPv6 in brackets: "[::1]:9876"); an empty host is 0.0.0.0. */
export function splitListenAddress(value: string, example: string): { host: string; port: string } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`--listen ${JSON.stringify(value)} is not HOST:PORT (e.g. ${example})`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port: match[3]! };
}

/** Apply `--set KEY=VALUE` flags over options (later flags win); the error names the bad flag. */
export function applySetFlags(options: Record<string, unknown>, assignments: readonly string[]): Record<string, unknown> {
  const out = { ...options };
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--set ${JSON.stringify(assignment)} is not KEY=VALUE`);
    out[assignment.slice(0, eq).trim()] = assignment.slice(eq + 1);
  }
  return out;
}
