import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ConnectionClosedError, RemoteError, RequestTimeoutError } from './errors.js';
import { RequestCode, ResponseCode } from './codes.js';
import { FLAG_ONEWAY, SerializeType, createRequest, createResponse, isResponse } from './remoting-command.js';
import { FrameDecoder, encodeFrame } from './frame-codec.js';
import type { RemotingCommand } from './remoting-command.js';
import { RemotingClient } from './remoting-client.js';
import type { RemotingClientOptions } from './remoting-client.js';
import { RemotingServer } from './remoting-server.js';
import type { RemotingServerOptions, ServerConnection } from './server-options.js';
import { sleep, until } from '../test/wait.js';

/** Codes with no header schema, for plumbing tests. */
const ECHO = 9001;
const HANG = 9002;
const FAIL = 9003;
const NOTE = 9004;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: RemotingServerOptions = {}): Promise<RemotingServer> {
  const server = new RemotingServer({ host: '127.0.0.1', ...options });
  server.registerHandler(ECHO, (request, { header }) => createResponse(request, ResponseCode.SUCCESS.code, undefined, { echoed: JSON.stringify(header) }, request.body));
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

function clientFor(server: RemotingServer, transport: 'ws' | 'tcp', options: RemotingClientOptions = {}): RemotingClient {
  const address = transport === 'tcp' ? `tcp://127.0.0.1:${server.port}` : `127.0.0.1:${server.port}`;
  const client = new RemotingClient(address, { reconnect: false, ...options });
  cleanups.push(() => client.close());
  return client;
}

function rawTcp(port: number): Promise<Socket> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(async () => {
    socket.destroy();
  });
  return once(socket, 'connect').then(() => socket);
}



describe.each(['ws', 'tcp'] as const)('RemotingServer over %s', (transport) => {
  it('answers a request with the response its handler returns', async () => {
    const server = await startServer();
    const client = clientFor(server, transport);
    const body = Buffer.from('hello karman');
    const request = createRequest(ECHO, { a: '1', b: 2 }, body);
    const response = await client.request(request);
    expect(isResponse(response)).toBe(true);
    expect(response.opaque).toBe(request.opaque);
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    // extFields travel as strings, as Java's HashMap<String, String> expects.
    expect(JSON.parse(String(response.extFields.echoed))).toEqual({ a: '1', b: '2' });
    expect(Buffer.from(response.body!).toString()).toBe('hello karman');
    expect([...server.connections].map((c) => c.transport)).toEqual([transport]);
  });

  it('answers in the binary ROCKETMQ serialization when the client sends it', async () => {
    const server = await startServer();
    const client = clientFor(server, transport, { serializeType: SerializeType.ROCKETMQ });
    const response = await client.request(createRequest(ECHO, { topic: 'orders' }, Buffer.from('bin')));
    expect(response.serializeType).toBe(SerializeType.ROCKETMQ);
    expect(JSON.parse(String(response.extFields.echoed))).toEqual({ topic: 'orders' });
    expect(Buffer.from(response.body!).toString()).toBe('bin');
  });

  it('answers a header that fails its schema with SYSTEM_ERROR naming the field, and keeps the connection', async () => {
    const server = await startServer();
    server.registerHandler(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, (request, { header }) =>
      createResponse(request, ResponseCode.SUCCESS.code, undefined, { topic: (header as { topic: string }).topic }),
    );
    const client = clientFor(server, transport);
    let connects = 0;
    client.on('connect', () => connects++);
    const bad = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, {}));
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(bad.remark).toMatch(/topic/);
    const good = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'orders' }));
    expect(good.code).toBe(ResponseCode.SUCCESS.code);
    expect(good.extFields.topic).toBe('orders');
    expect(connects).toBe(1);
  });

  it('answers an unknown request code with REQUEST_CODE_NOT_SUPPORTED naming the code', async () => {
    const server = await startServer();
    const client = clientFor(server, transport);
    const response = await client.request(createRequest(4242));
    expect(response.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code);
    expect(response.remark).toContain('4242');
  });

  it('turns a throwing or rejecting handler into an error response and keeps serving', async () => {
    const errors: Error[] = [];
    const server = await startServer({ onError: (error) => errors.push(error) });
    server.registerHandler(FAIL, (request) => {
      const how = request.extFields.how;
      if (how === 'remote') throw new RemoteError(ResponseCode.TOPIC_NOT_EXIST.code, 'topic orders does not exist');
      if (how === 'async') return Promise.reject(new Error('disk on fire'));
      throw new Error('handler bug');
    });
    const client = clientFor(server, transport);
    const remote = await client.request(createRequest(FAIL, { how: 'remote' }));
    expect(remote.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(remote.remark).toBe('topic orders does not exist');
    const thrown = await client.request(createRequest(FAIL, { how: 'throw' }));
    expect(thrown.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(thrown.remark).toBe('handler bug');
    const rejected = await client.request(createRequest(FAIL, { how: 'async' }));
    expect(rejected.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(rejected.remark).toBe('disk on fire');
    expect(errors.map((e) => e.message)).toEqual(['handler bug', 'disk on fire']);
    expect((await client.request(createRequest(ECHO))).code).toBe(ResponseCode.SUCCESS.code);
  });

  it('delivers oneway requests to their handler', async () => {
    const server = await startServer();
    const seen: string[] = [];
    server.registerHandler(NOTE, (request) => {
      seen.push(String(request.extFields.n));
      return createResponse(request, ResponseCode.SUCCESS.code); // must not be sent for a oneway
    });
    const client = clientFor(server, transport);
    for (let n = 0; n < 5; n++) await client.oneway(createRequest(NOTE, { n }));
    await until(() => seen.length === 5, 'five oneways');
    expect(seen).toEqual(['0', '1', '2', '3', '4']);
  });

  it('rejects a request with RequestTimeoutError when no response comes in time, and drops the late answer', async () => {
    const server = await startServer();
    server.registerHandler(HANG, async (request) => {
      await sleep(Number(request.extFields.ms));
      return createResponse(request, ResponseCode.SUCCESS.code);
    });
    const client = clientFor(server, transport);
    const started = Date.now();
    const error = await client.request(createRequest(HANG, { ms: 300 }), { timeoutMillis: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as RequestTimeoutError).message).toContain('50 ms');
    expect(Date.now() - started).toBeLessThan(300);
    await sleep(300); // the late response arrives and is ignored
    expect((await client.request(createRequest(ECHO))).code).toBe(ResponseCode.SUCCESS.code);
    expect(client.inFlight).toBe(0);
  });

  it('rejects a request whose AbortSignal fires with the signal reason', async () => {
    const server = await startServer();
    server.registerHandler(HANG, () => new Promise<undefined>(() => {}));
    const client = clientFor(server, transport);
    const controller = new AbortController();
    const pending = client.request(createRequest(HANG), { signal: controller.signal, timeoutMillis: 5000 });
    await sleep(20);
    controller.abort(new Error('user gave up'));
    await expect(pending).rejects.toThrow('user gave up');
    expect(client.inFlight).toBe(0);
  });

  it('delivers a server-initiated request to the client onRequest and returns its answer', async () => {
    const server = await startServer();
    const client = clientFor(server, transport, {
      onRequest: (request) => createResponse(request, ResponseCode.SUCCESS.code, undefined, { group: request.extFields.consumerGroup }, Buffer.from('ids')),
    });
    const connection = new Promise<ServerConnection>((resolve) => server.on('connection', resolve));
    await client.request(createRequest(ECHO)); // a TCP peer is known by its first frame, as a real client's heartbeat
    const peer = await connection;
    const answer = await peer.request(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code, { consumerGroup: 'g1' }), 1000);
    expect(answer.code).toBe(ResponseCode.SUCCESS.code);
    expect(answer.extFields.group).toBe('g1');
    expect(Buffer.from(answer.body!).toString()).toBe('ids');
  });

  it('answers a server push with REQUEST_CODE_NOT_SUPPORTED when the client has no onRequest', async () => {
    const server = await startServer();
    const client = clientFor(server, transport);
    const connection = new Promise<ServerConnection>((resolve) => server.on('connection', resolve));
    await client.request(createRequest(ECHO));
    const answer = await (await connection).request(createRequest(RequestCode.CHECK_TRANSACTION_STATE.code), 1000);
    expect(answer.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code);
  });

  it('rejects every pending request with ConnectionClosedError when the client closes', async () => {
    const server = await startServer();
    server.registerHandler(HANG, () => new Promise<undefined>(() => {}));
    const client = clientFor(server, transport);
    const pending = Array.from({ length: 10 }, () => client.request(createRequest(HANG), { timeoutMillis: 5000 }).catch((e: unknown) => e));
    await until(() => client.inFlight === 10, 'ten requests in flight');
    await client.close();
    const results = await Promise.all(pending);
    for (const result of results) expect(result).toBeInstanceOf(ConnectionClosedError);
    await expect(client.request(createRequest(ECHO))).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('rejects pending requests on both sides with ConnectionClosedError when the server closes', async () => {
    const server = await startServer();
    server.registerHandler(HANG, () => new Promise<undefined>(() => {}));
    const client = clientFor(server, transport, { onRequest: () => new Promise<undefined>(() => {}) });
    const connection = new Promise<ServerConnection>((resolve) => server.on('connection', resolve));
    const clientSide = Array.from({ length: 3 }, () => client.request(createRequest(HANG), { timeoutMillis: 5000 }).catch((e: unknown) => e));
    const serverSide = (await connection).request(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO.code), 5000).catch((e: unknown) => e);
    await until(() => client.inFlight === 3, 'three requests in flight');
    await server.close();
    expect(await serverSide).toBeInstanceOf(ConnectionClosedError);
    for (const result of await Promise.all(clientSide)) expect(result).toBeInstanceOf(ConnectionClosedError);
  });

  it('reconnects after the server restarts on the same port', async () => {
    const first = await startServer();
    const port = first.port;
    const client = clientFor(first, transport, { reconnect: { initialDelayMillis: 10, maxDelayMillis: 50 } });
    expect((await client.request(createRequest(ECHO))).code).toBe(0);
    const reconnecting: unknown[] = [];
    client.on('reconnecting', (attempt) => reconnecting.push(attempt));
    const disconnected = new Promise((resolve) => client.on('disconnect', resolve));
    await first.close();
    expect(typeof (await disconnected)).toBe('string');
    await sleep(100); // a few attempts fail against the closed port
    expect(client.connected).toBe(false);
    const reconnected = new Promise((resolve) => client.on('connect', resolve));
    await startServer({ port });
    await reconnected;
    expect(reconnecting.length).toBeGreaterThan(0);
    expect(client.connected).toBe(true);
    expect((await client.request(createRequest(ECHO))).code).toBe(0);
  });

  it('bounds requests in flight at maxInFlight and completes them all', async () => {
    const server = await startServer();
    let running = 0;
    let peak = 0;
    server.registerHandler(HANG, async (request) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(2);
      running--;
      return createResponse(request, ResponseCode.SUCCESS.code);
    });
    const client = clientFor(server, transport, { maxInFlight: 8 });
    const responses = await Promise.all(Array.from({ length: 200 }, () => client.request(createRequest(HANG), { timeoutMillis: 10_000 })));
    expect(responses.every((r) => r.code === 0)).toBe(true);
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
  });

  it('times out a request still waiting in line for an in-flight slot', async () => {
    const server = await startServer();
    server.registerHandler(HANG, () => new Promise<undefined>(() => {}));
    const client = clientFor(server, transport, { maxInFlight: 1 });
    const first = client.request(createRequest(HANG), { timeoutMillis: 2000 }).catch((e: unknown) => e);
    await until(() => client.inFlight === 1, 'the first request in flight');
    const queued = await client.request(createRequest(ECHO), { timeoutMillis: 50 }).catch((e: unknown) => e);
    expect(queued).toBeInstanceOf(RequestTimeoutError);
    expect(client.inFlight).toBe(1);
    await client.close();
    expect(await first).toBeInstanceOf(ConnectionClosedError);
  });

  it('serves GET /health and 404 over HTTP on the same port', async () => {
    const server = await startServer({ health: () => ({ status: 'ok', role: 'test' }) });
    const client = clientFor(server, transport);
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', role: 'test' });
    const missing = await fetch(`http://127.0.0.1:${server.port}/nope`);
    expect(missing.status).toBe(404);
    expect((await client.request(createRequest(ECHO))).code).toBe(0);
  });

  it('serves extra HTTP paths through the http option, and 404 for the rest', async () => {
    const server = await startServer({ http: (method, path) => (method === 'GET' && path === '/metrics' ? { status: 200, contentType: 'text/plain; version=0.0.4', body: 'karman_up 1\n' } : undefined) });
    const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await metrics.text()).toBe('karman_up 1\n');
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  });

  it('refuses connections beyond maxConnections and keeps serving the others', async () => {
    const server = await startServer({ maxConnections: 2 });
    const a = clientFor(server, transport);
    const b = clientFor(server, transport);
    await a.request(createRequest(ECHO));
    await b.request(createRequest(ECHO));
    await until(() => server.connections.size === 2, 'two connections');
    const c = clientFor(server, transport);
    const refused = await (async () => {
      await c.connect();
      return await c.request(createRequest(ECHO), { timeoutMillis: 1000 });
    })().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectionClosedError);
    expect(server.connections.size).toBe(2);
    expect((await a.request(createRequest(ECHO))).code).toBe(0);
  });

  it('closes a connection idle for idleTimeoutMillis, and not a busy one', async () => {
    const server = await startServer({ idleTimeoutMillis: 150 });
    const idle = clientFor(server, transport);
    const busy = clientFor(server, transport);
    const dropped = new Promise((resolve) => idle.on('disconnect', resolve));
    await idle.request(createRequest(ECHO));
    await busy.request(createRequest(ECHO));
    const started = Date.now();
    let busyDrops = 0;
    busy.on('disconnect', () => busyDrops++);
    while (Date.now() - started < 400) {
      expect((await busy.request(createRequest(ECHO))).code).toBe(0);
      await sleep(30);
    }
    expect(busyDrops).toBe(0);
    await dropped;
    expect(idle.connected).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('RemotingServer limits and bad input', () => {
  it('refuses bad options naming the option and the value', () => {
    expect(() => new RemotingServer({ port: 70_000 })).toThrow(/option "port".*got 70000/);
    expect(() => new RemotingServer({ idleTimeoutMillis: -1 })).toThrow(/option "idleTimeoutMillis"/);
    expect(() => new RemotingServer({ onError: 'log' as never })).toThrow(/option "onError" must be a function/);
  });

  it('closes a connection that shows no protocol within handshakeTimeoutMillis', async () => {
    const errors: string[] = [];
    const server = await startServer({ handshakeTimeoutMillis: 100, onError: (e) => errors.push(e.message) });
    const silent = await rawTcp(server.port);
    const halfMethod = await rawTcp(server.port);
    halfMethod.write('GE');
    await Promise.all([once(silent, 'close'), once(halfMethod, 'close')]);
    expect(errors.filter((m) => m.includes('handshake')).length).toBe(2);
  });

  it('closes a TCP connection that sends a bad frame, with a logged reason, and keeps others', async () => {
    const errors: string[] = [];
    const server = await startServer({ onError: (e) => errors.push(e.message) });
    const good = clientFor(server, 'tcp');
    await good.connect();
    const bad = await rawTcp(server.port);
    const frame = Buffer.alloc(12);
    frame.writeUInt32BE(8, 0);
    frame.writeUInt32BE(0x05000004, 4); // serialize type 5 does not exist
    bad.write(frame);
    await once(bad, 'close');
    expect(errors.some((m) => m.includes('serialize type 5'))).toBe(true);
    expect((await good.request(createRequest(ECHO))).code).toBe(0);
  });

  it('closes a TCP connection announcing a frame over maxFrameSize', async () => {
    const errors: string[] = [];
    const server = await startServer({ maxFrameSize: 1024, onError: (e) => errors.push(e.message) });
    const bad = await rawTcp(server.port);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(4096, 0);
    bad.write(head);
    await once(bad, 'close');
    expect(errors.some((m) => m.includes('exceeds the 1024-byte limit'))).toBe(true);
  });

  it('sends nothing back for a oneway request even when its handler returns a response', async () => {
    const server = await startServer();
    server.registerHandler(NOTE, (request) => createResponse(request, ResponseCode.SUCCESS.code));
    const socket = await rawTcp(server.port);
    const decoder = new FrameDecoder();
    const received: RemotingCommand[] = [];
    socket.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
    const note = createRequest(NOTE);
    note.flag |= FLAG_ONEWAY;
    const echo = createRequest(ECHO);
    socket.write(Buffer.concat([encodeFrame(note), encodeFrame(echo)]));
    await until(() => received.length >= 1, 'the echo response');
    await sleep(50);
    expect(received.map((c) => c.opaque)).toEqual([echo.opaque]);
  });

  it('closes a WebSocket that sends text (1002) or a message over maxFrameSize (1009)', async () => {
    const server = await startServer({ maxFrameSize: 1024 });
    const text = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await once(text, 'open');
    text.send('hello');
    const [textCode] = (await once(text, 'close')) as [number];
    expect(textCode).toBe(1002);
    const big = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    big.on('error', () => {});
    await once(big, 'open');
    big.send(Buffer.alloc(4096));
    const [bigCode] = (await once(big, 'close')) as [number];
    expect(bigCode).toBe(1009);
  });

  it('stops reading from a peer that does not read its answers, then catches up', async () => {
    const server = await startServer({ highWaterMark: 64 * 1024 });
    let handled = 0;
    server.registerHandler(HANG, (request) => {
      handled++;
      return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.alloc(16 * 1024));
    });
    const socket = await rawTcp(server.port);
    socket.pause();
    // 4000 requests × 4 KiB and their answers × 16 KiB: far beyond what socket buffers hold.
    const total = 4000;
    const frames: Buffer[] = [];
    for (let i = 0; i < total; i++) frames.push(encodeFrame(createRequest(HANG, {}, Buffer.alloc(4096))));
    socket.write(Buffer.concat(frames));
    let last = -1;
    await until(
      () => {
        const stalled = handled === last;
        last = handled;
        return stalled && handled > 0;
      },
      'the server to stop reading',
    );
    await sleep(100);
    expect(handled).toBeLessThan(total);
    const decoder = new FrameDecoder();
    let answers = 0;
    socket.on('data', (chunk: Buffer) => (answers += decoder.push(chunk).length));
    socket.resume();
    await until(() => answers === total, 'every answer', 15_000);
    expect(handled).toBe(total);
  });
});
