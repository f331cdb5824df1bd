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
  if (!text.includes('\\')) return text;
  return text.replace(/\\(u[0-9a-fA-F]{4}|[\s\S])/g, (_, escape: string) => {
    if (escape.startsWith('u') && escape.length === 5) return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (escape === 'n') return '\n';
    if (escape === 't') return '\t';
    if (escape === 'r') return '\r';
    if (escape === 'f') return '\f';
    return escape;
  });
}

/** java.util.Properties' blanks: space, tab and form feed (line terminators split lines first). */
function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\f';
}

function skipBlanks(line: string, from: number): number {
  let i = from;
  while (i < line.length && isBlank(line[i])) i++;
  return i;
}

function continues(line: string): boolean {
  let backslashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * One logical line into [key, value], in one pass as `Properties.load` reads it: the key ends at
 * the first unescaped '=', ':' or blank; blanks, then at most one '=' or ':', then blanks separate
 * it from the value. No regular expression: request bodies are parsed on the event loop.
 */
function splitKeyValue(line: string): [string, string] {
  let keyEnd = 0;
  while (keyEnd < line.length) {
    const ch = line[keyEnd];
    if (ch === '\\') keyEnd += 2;
    else if (ch === '=' || ch === ':' || isBlank(ch)) break;
    else keyEnd++;
  }
  keyEnd = Math.min(keyEnd, line.length);
  let valueStart = skipBlanks(line, keyEnd);
  if (line[valueStart] === '=' || line[valueStart] === ':') valueStart = skipBlanks(line, valueStart + 1);
  return [unescape(line.slice(0, keyEnd)), unescape(line.slice(valueStart).trimEnd())];
}

/**
 * Largest properties body a server reads from a request (UPDATE_BROKER_CONFIG, UPDATE_NAMESRV_CONFIG):
 * 64 KiB, far above any real broker.conf (every option of a broker fits in about 8 KiB).
 */
export const MAX_CONFIG_BODY_BYTES = 64 * 1024;

/** Why a config body cannot be read, or undefined when it can: the size limit, said so a caller can act. */
export function configBodyTooLarge(body: Uint8Array | undefined, request: string): string | undefined {
  const size = body?.length ?? 0;
  if (size <= MAX_CONFIG_BODY_BYTES) return undefined;
  return `the ${request} body is ${size} bytes, over the ${MAX_CONFIG_BODY_BYTES}-byte limit; send only the options to change, a few lines of key=value`;
}

/** Parse properties text into key → value (later keys win, as in Java); linear in the text's length. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    line = line.slice(skipBlanks(line, 0));
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    if (continues(line) && i + 1 < lines.length) {
      // Parts are joined once: concatenating line by line is quadratic in a long run of them.
      const parts = [line.slice(0, -1)];
      let next = line;
      while (continues(next) && i + 1 < lines.length) {
        next = lines[++i]!;
        next = next.slice(skipBlanks(next, 0));
        parts.push(continues(next) && i + 1 < lines.length ? next.slice(0, -1) : next);
      }
      line = parts.join('');
    }
    const [key, value] = splitKeyValue(line);
    if (key === '') continue;
    out[key] = value;
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
