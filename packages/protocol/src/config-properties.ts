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
