import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRequest } from './remoting-command.js';
import { encodeFrame } from './frame-codec.js';
import { MAX_SNIFF_BYTES, SniffedProtocol, sniffProtocol } from './protocol-sniffer.js';

describe('sniffProtocol', () => {
  it('recognises HTTP request lines, including a WebSocket upgrade', () => {
    expect(sniffProtocol(Buffer.from('GET /health HTTP/1.1\r\n'))).toBe(SniffedProtocol.HTTP);
    expect(sniffProtocol(Buffer.from('OPTIONS * HTTP/1.1\r\n'))).toBe(SniffedProtocol.HTTP);
    expect(sniffProtocol(Buffer.from('POST '))).toBe(SniffedProtocol.HTTP);
  });

  it('waits for more bytes while they are a prefix of a method', () => {
    expect(sniffProtocol(Buffer.alloc(0))).toBe(SniffedProtocol.NEED_MORE);
    expect(sniffProtocol(Buffer.from('G'))).toBe(SniffedProtocol.NEED_MORE);
    expect(sniffProtocol(Buffer.from('OPTIONS'))).toBe(SniffedProtocol.NEED_MORE);
  });

  it('treats a remoting frame, and any non-method text, as remoting TCP', () => {
    expect(sniffProtocol(encodeFrame(createRequest(105, { topic: 't' })))).toBe(SniffedProtocol.REMOTING);
    expect(sniffProtocol(Buffer.from('GETX /'))).toBe(SniffedProtocol.REMOTING);
    expect(sniffProtocol(Buffer.from('get / HTTP/1.1'))).toBe(SniffedProtocol.REMOTING);
  });

  it('decides within MAX_SNIFF_BYTES bytes for any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: MAX_SNIFF_BYTES, maxLength: 64 }), (bytes) => {
        expect(sniffProtocol(bytes)).not.toBe(SniffedProtocol.NEED_MORE);
      }),
    );
  });
});
