import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KarmanError, ProtocolError } from './errors.js';
import {
  createRequest,
  createResponse,
  FLAG_ONEWAY,
  isOneway,
  isResponse,
  SerializeType,
} from './remoting-command.js';
import {
  decodeFrame,
  encodeFrame,
  encodeFrameParts,
  FrameDecoder,
} from './frame-codec.js';
import type { ExtFieldValue, RemotingCommand } from './remoting-command.js';

// LanguageCode.java, the languages the binary header can carry.
const LANGUAGES = ['JAVA', 'CPP', 'DOTNET', 'PYTHON', 'DELPHI', 'ERLANG', 'RUBY', 'OTHER', 'HTTP', 'GO', 'PHP', 'OMS', 'RUST', 'NODE_JS'];
const int16 = fc.integer({ min: -32768, max: 32767 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const text = (minLength = 0): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', minLength, maxLength: 40 });
// "__proto__" is left out here and tested on its own below (a known defect).
const fieldKey = text().filter((key) => key !== '__proto__');
const fieldValue: fc.Arbitrary<ExtFieldValue> = fc.oneof(text(), fc.integer(), fc.double(), fc.boolean());
const serializeType = fc.constantFrom(SerializeType.JSON, SerializeType.ROCKETMQ);

/** Commands whose every field fits both serializations (the binary header has i16 code and version). */
const commandArb: fc.Arbitrary<RemotingCommand> = fc.record({
  code: int16,
  language: fc.constantFrom(...LANGUAGES),
  version: int16,
  opaque: int32,
  flag: int32,
  // An empty remark reads back as absent from the binary header, as in Java; tested apart.
  remark: fc.option(text(1), { nil: undefined }),
  extFields: fc.dictionary(fieldKey, fieldValue, { maxKeys: 8, noNullPrototype: true }),
  body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined }),
});

/** What a command reads back as: extFields values as strings (Java's HashMap<String, String>). */
function asDecoded(command: RemotingCommand, type: SerializeType): Omit<RemotingCommand, 'body'> {
  const extFields: Record<string, string> = {};
  for (const [key, value] of Object.entries(command.extFields)) extFields[key] = String(value);
  return { code: command.code, language: command.language, version: command.version, opaque: command.opaque, flag: command.flag, remark: command.remark, extFields, serializeType: type };
}

function withoutBody(command: RemotingCommand): Omit<RemotingCommand, 'body'> {
  const { body: _body, ...rest } = command;
  return rest;
}

function bodyBytes(command: RemotingCommand): Buffer | undefined {
  return command.body === undefined ? undefined : Buffer.from(command.body);
}

/** A frame around a raw header, for headers no encoder would write. */
function rawFrame(header: string | Buffer, type = 0, body = Buffer.alloc(0)): Buffer {
  const bytes = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
  const frame = Buffer.alloc(8 + bytes.length + body.length);
  frame.writeUInt32BE(4 + bytes.length + body.length, 0);
  frame.writeUInt32BE(((type << 24) | bytes.length) >>> 0, 4);
  bytes.copy(frame, 8);
  body.copy(frame, 8 + bytes.length);
  return frame;
}

function sample(type: SerializeType = SerializeType.JSON, body?: Uint8Array): RemotingCommand {
  return { ...createRequest(11, { topic: 'orders', queueId: 3, lo: false }, body), serializeType: type };
}

describe('encodeFrame / decodeFrame', () => {
  it.each([
    ['JSON', SerializeType.JSON],
    ['ROCKETMQ', SerializeType.ROCKETMQ],
  ] as const)('round-trips any command in %s serialization, extFields coming back as strings', (_name, type) => {
    fc.assert(
      fc.property(commandArb, (command) => {
        const decoded = decodeFrame(encodeFrame({ ...command, serializeType: type }));
        expect(withoutBody(decoded)).toEqual(asDecoded(command, type));
        for (const value of Object.values(decoded.extFields)) expect(typeof value).toBe('string');
        expect(bodyBytes(decoded)).toEqual(bodyBytes(command));
      }),
      { numRuns: 300 },
    );
  });

  it('writes the frame layout: u32 length, u8 serialize type, u24 header length, header, body', () => {
    for (const type of [SerializeType.JSON, SerializeType.ROCKETMQ]) {
      const body = Buffer.from('hello body');
      const frame = encodeFrame(sample(type, body));
      const headerLength = frame.readUInt32BE(4) & 0xffffff;
      expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
      expect(frame[4]).toBe(type);
      expect(frame.length).toBe(8 + headerLength + body.length);
      expect(frame.subarray(8 + headerLength).toString()).toBe('hello body');
    }
  });

  it('writes the JSON header as Java expects it: extFields as strings', () => {
    const frame = encodeFrame(sample(SerializeType.JSON));
    const header = JSON.parse(frame.subarray(8, 8 + (frame.readUInt32BE(4) & 0xffffff)).toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ code: 11, language: 'JAVA', flag: 0, extFields: { topic: 'orders', queueId: '3', lo: 'false' } });
  });

  it('keeps a large body out of the head buffer (encodeFrameParts) yet frames it as one', () => {
    const body = new Uint8Array(64 * 1024).fill(7);
    const [head, tail] = encodeFrameParts(sample(SerializeType.JSON, body));
    expect(tail).toBe(body);
    expect(head.readUInt32BE(0)).toBe(head.length - 4 + body.length);
    expect(Buffer.from(decodeFrame(Buffer.concat([head, tail!])).body!)).toEqual(Buffer.from(body));
  });

  it('reads an empty remark as absent from the binary header, as Java does', () => {
    expect(decodeFrame(encodeFrame({ ...sample(SerializeType.ROCKETMQ), remark: '' })).remark).toBeUndefined();
    expect(decodeFrame(encodeFrame({ ...sample(SerializeType.JSON), remark: '' })).remark).toBe('');
  });

  it('reads a frame given as a Uint8Array view into a larger buffer', () => {
    const frame = encodeFrame(sample());
    const backing = new Uint8Array(frame.length + 10);
    backing.set(frame, 5);
    expect(decodeFrame(backing.subarray(5, 5 + frame.length)).extFields).toEqual({ topic: 'orders', queueId: '3', lo: 'false' });
  });

  it('reads the JSON header fields ali-ons writes, with defaults for the ones it leaves out', () => {
    const decoded = decodeFrame(rawFrame('{"code":310,"language":"JAVA","version":121,"opaque":7,"flag":0,"extFields":{"a":"PID","d":4,"k":false,"o":{"x":1}}}'));
    expect(decoded).toMatchObject({ code: 310, version: 121, opaque: 7, extFields: { a: 'PID', d: 4, k: false, o: '{"x":1}' } });
    expect(decodeFrame(rawFrame('{"code":"11"}'))).toMatchObject({ code: 11, language: 'OTHER', version: 0, opaque: 0, flag: 0, extFields: {} });
  });
});

describe('createRequest / createResponse', () => {
  it('answers with the request opaque and serialization, the response flag set', () => {
    const request = { ...createRequest(10, { topic: 't', skip: undefined, gone: null }), serializeType: SerializeType.ROCKETMQ };
    expect(request.extFields).toEqual({ topic: 't' });
    const response = createResponse(request, 17, 'no route', { offset: 5 });
    expect(response).toMatchObject({ opaque: request.opaque, code: 17, remark: 'no route', serializeType: SerializeType.ROCKETMQ, extFields: { offset: 5 } });
    expect(isResponse(response)).toBe(true);
    expect(isResponse(request)).toBe(false);
    expect(isOneway({ flag: FLAG_ONEWAY })).toBe(true);
    expect(createRequest(10).opaque).not.toBe(createRequest(10).opaque);
  });
});

describe('FrameDecoder', () => {
  it('returns every frame, in order, however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(commandArb, serializeType), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (commands, cutSeeds) => {
          const frames = commands.map(([command, type]) => encodeFrame({ ...command, serializeType: type }));
          const stream = Buffer.concat(frames);
          const cuts = [...new Set(cutSeeds.map((seed) => seed % (stream.length + 1)))].sort((a, b) => a - b);
          const decoder = new FrameDecoder();
          const out: RemotingCommand[] = [];
          let start = 0;
          for (const cut of [...cuts, stream.length]) {
            out.push(...decoder.push(stream.subarray(start, cut)));
            start = cut;
          }
          expect(out.map(withoutBody)).toEqual(frames.map((frame) => withoutBody(decodeFrame(frame))));
          expect(out.map(bodyBytes)).toEqual(commands.map(([command]) => bodyBytes(command)));
          expect(decoder.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('feeds a stream one byte at a time', () => {
    const frames = [sample(SerializeType.JSON, Buffer.from('a')), sample(SerializeType.ROCKETMQ), sample(SerializeType.JSON)].map((c) => encodeFrame(c));
    const decoder = new FrameDecoder();
    const out: RemotingCommand[] = [];
    for (const byte of Buffer.concat(frames)) out.push(...decoder.push(Buffer.from([byte])));
    expect(out).toHaveLength(3);
    expect(out.map((c) => c.serializeType)).toEqual([SerializeType.JSON, SerializeType.ROCKETMQ, SerializeType.JSON]);
  });

  it('keeps the bytes of an unfinished frame pending', () => {
    const frame = encodeFrame(sample());
    const decoder = new FrameDecoder();
    expect(decoder.push(frame.subarray(0, 10))).toEqual([]);
    expect(decoder.pendingBytes).toBe(10);
    expect(decoder.push(frame.subarray(10))).toHaveLength(1);
  });

  it('refuses an oversized frame as soon as its length is known, before the body arrives', () => {
    const frame = encodeFrame(sample(SerializeType.JSON, new Uint8Array(2000)));
    const decoder = new FrameDecoder({ maxFrameSize: 1024 });
    expect(() => decoder.push(frame.subarray(0, 4))).toThrow(/exceeds the 1024-byte limit/);
  });

  it('rejects a frame whose length cannot hold the header-length field', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 3, 0, 0, 0]))).toThrow(ProtocolError);
  });
});

describe('bad frames are rejected with a ProtocolError that says what is wrong', () => {
  const frame = encodeFrame(sample());

  const cases: Array<[string, () => unknown, RegExp]> = [
    ['a frame shorter than its head', () => decodeFrame(frame.subarray(0, 7)), /7 bytes is shorter than the 8-byte frame head/],
    ['a length field that disagrees with the message', () => decodeFrame(Buffer.concat([frame, Buffer.from([0])])), /length field says \d+ bytes but the message has \d+/],
    ['a truncated message', () => decodeFrame(frame.subarray(0, frame.length - 1)), /length field says/],
    ['a frame above maxFrameSize', () => decodeFrame(encodeFrame(sample(SerializeType.JSON, new Uint8Array(2000))), { maxFrameSize: 1024 }), /exceeds the 1024-byte limit/],
    ['a header above maxHeaderSize', () => decodeFrame(frame, { maxHeaderSize: 10 }), /header of \d+ bytes exceeds the 10-byte limit/],
    ['a header length past the end of the frame', () => { const f = rawFrame('{"code":1}'); f.writeUInt32BE(200, 4); return decodeFrame(f); }, /header length 200 runs past the end of a \d+-byte frame/],
    ['an unknown serialize type', () => decodeFrame(rawFrame('{"code":1}', 2)), /unknown serialize type 2/],
    ['a header that is not JSON', () => decodeFrame(rawFrame('{"code":1')), /not valid JSON/],
    ['a JSON array header', () => decodeFrame(rawFrame('[1,2]')), /must be a JSON object/],
    ['a JSON string header', () => decodeFrame(rawFrame('"code"')), /must be a JSON object/],
    ['a JSON null header', () => decodeFrame(rawFrame('null')), /must be a JSON object/],
    ['a fractional code', () => decodeFrame(rawFrame('{"code":1.5}')), /"code" must be an integer, got 1.5/],
    ['a non-numeric code', () => decodeFrame(rawFrame('{"code":"eleven"}')), /"code" must be an integer, got "eleven"/],
    ['a missing code', () => decodeFrame(rawFrame('{"opaque":1}')), /"code" must be an integer/],
    ['a non-integer opaque', () => decodeFrame(rawFrame('{"code":1,"opaque":true}')), /"opaque" must be an integer/],
    ['extFields that are not an object', () => decodeFrame(rawFrame('{"code":1,"extFields":[1]}')), /"extFields" must be an object/],
    ['a remark that is not a string', () => decodeFrame(rawFrame('{"code":1,"remark":5}')), /"remark" must be a string/],
    ['a binary header shorter than its fixed fields', () => decodeFrame(rawFrame(Buffer.alloc(10), 1)), /truncated reading fixed fields/],
    ['a binary remark running past the header', () => { const h = Buffer.alloc(21); h.writeInt32BE(100, 13); return decodeFrame(rawFrame(h, 1)); }, /truncated reading remark/],
    ['a negative binary remark length', () => { const h = Buffer.alloc(21); h.writeInt32BE(-1, 13); return decodeFrame(rawFrame(h, 1)); }, /remark length -1 is negative/],
    ['binary extFields running past the header', () => { const h = Buffer.alloc(21); h.writeInt32BE(50, 17); return decodeFrame(rawFrame(h, 1)); }, /truncated reading extFields/],
    ['a binary extFields key running past its map', () => { const h = Buffer.alloc(25); h.writeInt32BE(4, 17); h.writeInt16BE(30, 21); return decodeFrame(rawFrame(h, 1)); }, /truncated reading a key/],
  ];

  it.each(cases)('%s', (_name, run, message) => {
    expect(run).toThrow(ProtocolError);
    expect(run).toThrow(message);
  });

  it('rejects the same bad frames when they arrive on a stream', () => {
    const streamed = (bytes: Buffer, limits = {}): unknown => new FrameDecoder(limits).push(bytes);
    expect(() => streamed(rawFrame('{"code":1}', 9))).toThrow(/unknown serialize type 9/);
    expect(() => streamed(rawFrame('not json'))).toThrow(/not valid JSON/);
    expect(() => streamed(frame, { maxHeaderSize: 10 })).toThrow(/exceeds the 10-byte limit/);
    expect(() => streamed(encodeFrame(sample(SerializeType.JSON, new Uint8Array(2000))), { maxFrameSize: 1024 })).toThrow(ProtocolError);
  });
});

describe('random and mutated bytes', () => {
  function onlyProtocolErrors(run: () => unknown): void {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
    }
  }

  it('never make decodeFrame or FrameDecoder throw anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        onlyProtocolErrors(() => decodeFrame(bytes));
        onlyProtocolErrors(() => new FrameDecoder({ maxFrameSize: 4096 }).push(Buffer.from(bytes)));
      }),
      { numRuns: 2000 },
    );
  });

  it('never make them throw anything but ProtocolError when valid frames are corrupted', () => {
    const mutation = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(commandArb, serializeType, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean(), (command, type, mutations, cut, truncate) => {
        const frame = Buffer.from(encodeFrame({ ...command, serializeType: type }));
        // Keep the length field mostly intact so mutations reach the header decoders.
        for (const { at, byte } of mutations) frame[4 + (at % (frame.length - 4))] = byte;
        const bytes = truncate ? frame.subarray(0, cut % (frame.length + 1)) : frame;
        onlyProtocolErrors(() => decodeFrame(bytes));
        onlyProtocolErrors(() => {
          const decoder = new FrameDecoder();
          const split = cut % (bytes.length + 1);
          decoder.push(bytes.subarray(0, split));
          decoder.push(bytes.subarray(split));
        });
      }),
      { numRuns: 3000 },
    );
  });
});

// Defects found in remoting-command.ts (owned by the lead); each test states the behaviour wanted
// and fails until the fix described in the helper's report is applied.
describe('header values Java could not have sent', () => {
  it('keeps an extFields key named "__proto__" as an ordinary field', () => {
    expect(decodeFrame(rawFrame('{"code":1,"extFields":{"__proto__":"x","a":"b"}}')).extFields).toEqual(JSON.parse('{"__proto__":"x","a":"b"}'));
    const binary = decodeFrame(encodeFrame({ ...createRequest(1), extFields: JSON.parse('{"__proto__":"x"}') as Record<string, string>, serializeType: SerializeType.ROCKETMQ }));
    expect(Object.keys(binary.extFields)).toEqual(['__proto__']);
  });

  it('rejects JSON header integers outside the 32-bit int Java reads them into', () => {
    expect(() => decodeFrame(rawFrame(`{"code":"${'9'.repeat(400)}"}`))).toThrow(ProtocolError);
    expect(() => decodeFrame(rawFrame('{"code":1,"opaque":3000000000}'))).toThrow(ProtocolError);
  });

  it('refuses to encode a binary header whose values overflow its field widths with a KarmanError, not a RangeError', () => {
    const command = { ...createRequest(70_000), serializeType: SerializeType.ROCKETMQ };
    expect(() => encodeFrame(command)).toThrow(KarmanError);
    expect(() => encodeFrame(command)).toThrow(/code/);
  });
});

describe('JSON header decoding: fast path and general path agree', () => {
  // The decoder scans plain headers in one pass and hands anything unusual to JSON.parse. Writing
  // the "code" key with a JSON escape ("\u0063ode" is the same key) forces the general path, so a
  // header decoded both ways must give the same command.
  it('decodes every header the same whichever path reads it', () => {
    fc.assert(
      fc.property(commandArb, (command) => {
        const frame = encodeFrame({ ...command, serializeType: SerializeType.JSON });
        const headerLength = frame.readUInt32BE(4) & 0xffffff;
        const header = frame.toString('utf8', 8, 8 + headerLength);
        expect(header).toContain('"code":');
        const escaped = header.replace('"code":', '"\\u0063ode":');
        const general = decodeFrame(rawFrame(escaped, 0, Buffer.from(frame.subarray(8 + headerLength))));
        const fast = decodeFrame(frame);
        expect(withoutBody(general)).toEqual(withoutBody(fast));
        expect(bodyBytes(general)).toEqual(bodyBytes(fast));
      }),
      { numRuns: 500 },
    );
  });
});
