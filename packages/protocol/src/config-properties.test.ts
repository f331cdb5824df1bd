import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatProperties, parseProperties } from './config-properties.js';

describe('properties text', () => {
  it('reads RocketMQ namesrv.properties lines the way java.util.Properties does', () => {
    const text = ['# comment', '! also a comment', 'listenPort=9877', '  orderMessageEnable : true', 'bindAddress 127.0.0.1', 'dataDir=/var/lib/a\\', '  /b', 'x\\=y=1', 'empty='].join('\n');
    expect({ ...parseProperties(text) }).toEqual({ listenPort: '9877', orderMessageEnable: 'true', bindAddress: '127.0.0.1', dataDir: '/var/lib/a/b', 'x=y': '1', empty: '' });
  });

  it('round-trips what formatProperties writes', () => {
    const values = { a: 'plain', 'b c': 'with\nnewline', d: 42, e: true };
    expect({ ...parseProperties(formatProperties(values)) }).toEqual({ a: 'plain', 'b c': 'with\nnewline', d: '42', e: 'true' });
  });
});

describe('properties text from the network (UPDATE_BROKER_CONFIG, UPDATE_NAMESRV_CONFIG bodies)', () => {
  // Each used to hold the event loop for seconds to minutes: a backtracking match over the line,
  // and continuation lines joined by repeated concatenation. The parse runs in a child process
  // given 10 s; linear parsing of these few hundred KB takes milliseconds.
  const child = fileURLToPath(new URL('../test/fixtures/parse-properties-child.ts', import.meta.url));
  function parseInChild(text: string): Record<string, string> {
    const run = spawnSync(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', child], { input: text, cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 10_000, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.error || run.signal) throw new Error(`parseProperties did not finish within 10 s on ${text.length} characters (${run.signal ?? run.error?.message})`);
    if (run.status !== 0) throw new Error(`the parse child failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, string>;
  }

  it('parses a long line of blanks and text ending in a line separator without backtracking', { timeout: 20_000 }, () => {
    const line = `k${' '.repeat(100_000)}${'x'.repeat(100_000)}\u2028y`;
    expect(parseInChild(line)).toEqual({ k: `${'x'.repeat(100_000)}\u2028y` });
  });

  it('joins 80,000 continuation lines without repeated concatenation', { timeout: 20_000 }, () => {
    const values = Array.from({ length: 80_000 }, (_, i) => `v${i}`);
    const parsed = parseInChild(`k=${values.join('\\\n')}\nend=1`);
    expect([parsed.k, parsed.end]).toEqual([values.join(''), '1']);
  });

  it('reads as java.util.Properties does: key up to the first unescaped = : or blank, one separator, escapes', () => {
    expect({ ...parseProperties('a   =  b  \n c:d\ne f g\n\\u0041\\ \\=k = v\nempty\n  =novalue') }).toEqual({ a: 'b', c: 'd', e: 'f g', 'A =k': 'v', empty: '' });
  });

  it('never throws and keeps every key=value line it is given, whatever the bytes around them', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9.]{0,12}$/)), { maxLength: 20 }), fc.string({ maxLength: 200 }), (pairs, noise) => {
        // The noise line ends in '#' so it cannot continue onto the first pair's line.
        const text = `${noise.replace(/[\r\n]/g, '')}#\n${pairs.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
        const parsed = parseProperties(text);
        const last = new Map(pairs);
        for (const [k, v] of last) expect(parsed[k]).toBe(v);
      }),
      { seed: 19_001, numRuns: 300 },
    );
  });
});

describe('applySetFlags', () => {
  it('applies KEY=VALUE flags over options without touching the input, later flags winning', async () => {
    const { applySetFlags } = await import('./config-properties.js');
    const input = { a: '1', b: '2' };
    expect(applySetFlags(input, ['b=3', 'c=x=y', 'b=4'])).toEqual({ a: '1', b: '4', c: 'x=y' });
    expect(input).toEqual({ a: '1', b: '2' });
    expect(() => applySetFlags({}, ['novalue'])).toThrow(/--set "novalue" is not KEY=VALUE/);
    expect(() => applySetFlags({}, ['=v'])).toThrow(/not KEY=VALUE/);
  });
});
