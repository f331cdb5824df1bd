import { describe, expect, it } from 'vitest';
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
