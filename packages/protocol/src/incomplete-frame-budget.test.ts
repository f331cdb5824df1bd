import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseCode } from './codes.js';
import { createRequest, createResponse } from './remoting-command.js';
import { encodeFrame } from './frame-codec.js';
import { RemotingClient } from './remoting-client.js';
import { RemotingServer } from './remoting-server.js';
import type { RemotingServerOptions } from './server-options.js';
import { sleep, until } from '../test/wait.js';

const ECHO = 9001;
const MiB = 1024 * 1024;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(options: RemotingServerOptions = {}): Promise<RemotingServer> {
  const server = new RemotingServer({ host: '127.0.0.1', ...options });
  server.registerHandler(ECHO, (request) => createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, request.body));
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

function clientFor(server: RemotingServer): RemotingClient {
  const client = new RemotingClient(`tcp://127.0.0.1:${server.port}`, { reconnect: false });
  cleanups.push(() => client.close());
  return client;
}

async function rawTcp(port: number): Promise<Socket> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(async () => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return socket;
}

/** The length field of a frame announcing `frameLength` bytes after it, and its header length: what a peer sends first. */
function frameStart(frameLength: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(frameLength, 0);
  head.writeUInt32BE(64, 4); // JSON header of 64 bytes; never reached
  return head;
}

/** Resolves when the socket closes; `once(socket, 'close')` would reject on the ECONNRESET of a close by the server. */
function closeOf(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** A raw socket through the WebSocket upgrade, so the test can send a message's frame header and only part of its payload. */
async function rawWebSocket(port: number): Promise<Socket> {
  const socket = await rawTcp(port);
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) head += String((await once(socket, 'data'))[0]);
  expect(head).toMatch(/^HTTP\/1.1 101/);
  return socket;
}

/** Header of a masked binary WebSocket frame (all-zero key, so the payload goes as it is) of `length` bytes. */
function wsFrameStart(length: number): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x82; // FIN, binary
  head[1] = 0x80 | 127; // masked, 64-bit length
  head.writeBigUInt64BE(BigInt(length), 2);
  return head; // bytes 10..13: the zero masking key
}



describe('RemotingServer under incomplete frames', () => {
  it('keeps the bytes of incomplete frames within maxBufferedIncompleteFrameBytes, closing the peers holding the most, and keeps serving a well-behaved client', async () => {
    const errors: string[] = [];
    const budget = 64 * MiB;
    const server = await startServer({ maxBufferedIncompleteFrameBytes: budget, onError: (e) => errors.push(e.message) });
    const good = clientFor(server);
    expect((await good.request(createRequest(ECHO, {}, Buffer.from('before')))).code).toBe(0);

    // 40 peers each announce a 16 MiB frame and send 15 MiB of it: 600 MiB if all were kept.
    const payload = Buffer.alloc(15 * MiB - 8, 0x61);
    const peers = await Promise.all(Array.from({ length: 40 }, () => rawTcp(server.port)));
    const closed = peers.map(closeOf);
    for (const peer of peers) {
      peer.write(frameStart(16 * MiB - 4));
      peer.write(payload);
    }
    // The well-behaved client is served while the flood arrives, and after.
    for (let i = 0; i < 20; i++) {
      const answer = await good.request(createRequest(ECHO, {}, Buffer.alloc(64 * 1024, i)), { timeoutMillis: 10_000 });
      expect(answer.code).toBe(0);
      expect(answer.body?.length).toBe(64 * 1024);
    }
    // Within the budget 4 of those 15 MiB partial frames fit; every peer beyond it is closed.
    await until(() => server.stats.incompleteFrameConnectionsClosed >= 36, '36 flooding peers closed');
    expect(server.stats.peakBufferedIncompleteFrameBytes).toBeLessThanOrEqual(budget);
    expect(server.stats.bufferedIncompleteFrameBytes).toBeLessThanOrEqual(budget);
    expect(server.stats.bufferedIncompleteFrameBytes).toBeGreaterThan(0);
    expect(errors.some((m) => /maxBufferedIncompleteFrameBytes/.test(m))).toBe(true);
    // The good client's connection was never one of them.
    expect(good.connected).toBe(true);
    expect((await good.request(createRequest(ECHO, {}, Buffer.from('after')))).code).toBe(0);
    for (const peer of peers) peer.destroy();
    await Promise.all(closed);
    await until(() => server.stats.bufferedIncompleteFrameBytes === 0, 'the partial bytes to be released');
  });

  it('closes a connection whose frame does not complete within frameCompleteTimeoutMillis, though it keeps sending', async () => {
    const errors: string[] = [];
    const server = await startServer({ frameCompleteTimeoutMillis: 300, idleTimeoutMillis: 60_000, onError: (e) => errors.push(e.message) });
    const good = clientFor(server);
    await good.connect();
    const slow = await rawTcp(server.port);
    const closed = closeOf(slow);
    const started = Date.now();
    slow.write(frameStart(1024));
    // A byte every 50 ms: the frame moves, but never finishes.
    const drip = setInterval(() => {
      if (!slow.destroyed) slow.write(Buffer.from('x'));
    }, 50);
    try {
      await closed;
    } finally {
      clearInterval(drip);
    }
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
    expect(errors.some((m) => /frameCompleteTimeoutMillis 300/.test(m))).toBe(true);
    expect(server.stats.frameTimeoutConnectionsClosed).toBe(1);
    expect(server.stats.bufferedIncompleteFrameBytes).toBe(0);
    expect((await good.request(createRequest(ECHO))).code).toBe(0);
  });

  it('does not time out a large frame that completes in time, nor a connection sending whole frames', async () => {
    const server = await startServer({ frameCompleteTimeoutMillis: 400 });
    const socket = await rawTcp(server.port);
    let answers = 0;
    socket.on('data', () => answers++);
    // One frame sent in pieces over about 200 ms, then whole frames for longer than the timeout.
    const frame = encodeFrame(createRequest(ECHO, {}, Buffer.alloc(256 * 1024, 1)));
    for (let at = 0; at < frame.length; at += 32 * 1024) {
      socket.write(frame.subarray(at, Math.min(frame.length, at + 32 * 1024)));
      await sleep(25);
    }
    const whole = encodeFrame(createRequest(ECHO, {}, Buffer.from('x')));
    for (let i = 0; i < 10; i++) {
      socket.write(whole);
      await sleep(60);
    }
    await until(() => answers >= 1, 'answers');
    expect(socket.destroyed).toBe(false);
    expect(server.stats.frameTimeoutConnectionsClosed).toBe(0);
  });

  it('charges each socket read held, so peers dripping a byte at a time cannot hold far more than they are charged', async () => {
    // 20 peers × ~400 reads of one byte: 8 KB of bytes, but ~400 bytes of Buffer each, about 3 MB.
    const budget = MiB;
    const server = await startServer({ maxFrameSize: MiB, maxBufferedIncompleteFrameBytes: budget });
    const peers = await Promise.all(Array.from({ length: 20 }, () => rawTcp(server.port)));
    for (const peer of peers) {
      peer.setNoDelay(true);
      peer.write(frameStart(64 * 1024));
    }
    for (let i = 0; i < 400 && server.stats.incompleteFrameConnectionsClosed === 0; i++) {
      for (const peer of peers) if (!peer.destroyed) peer.write(Buffer.from('x'));
      await sleep(2);
    }
    await until(() => server.stats.incompleteFrameConnectionsClosed > 0, 'a dripping peer closed');
    expect(server.stats.peakBufferedIncompleteFrameBytes).toBeLessThanOrEqual(budget);
  });

  it('refuses a budget smaller than one frame, naming both options', () => {
    expect(() => new RemotingServer({ maxFrameSize: 16 * MiB, maxBufferedIncompleteFrameBytes: MiB })).toThrow(/maxBufferedIncompleteFrameBytes.*maxFrameSize/);
  });

  it('counts an incomplete WebSocket message against the same budget and timeout', async () => {
    const errors: string[] = [];
    const budget = 32 * MiB;
    const server = await startServer({ maxBufferedIncompleteFrameBytes: budget, frameCompleteTimeoutMillis: 2000, onError: (e) => errors.push(e.message) });
    const good = new RemotingClient(`127.0.0.1:${server.port}`, { reconnect: false });
    cleanups.push(() => good.close());
    expect((await good.request(createRequest(ECHO))).code).toBe(0);
    const peers = await Promise.all(Array.from({ length: 8 }, () => rawWebSocket(server.port)));
    const closed = peers.map(closeOf);
    const payload = Buffer.alloc(12 * MiB, 0x61);
    for (const peer of peers) {
      peer.write(wsFrameStart(15 * MiB));
      peer.write(payload);
    }
    // Two 12 MiB partial messages fit in 32 MiB; the other six peers are closed for the budget.
    await until(() => server.stats.incompleteFrameConnectionsClosed >= 6, 'six WebSocket peers closed');
    expect(server.stats.peakBufferedIncompleteFrameBytes).toBeLessThanOrEqual(budget);
    expect((await good.request(createRequest(ECHO))).code).toBe(0);
    // The two left never finish their message: the frame timeout closes them.
    await Promise.all(closed);
    expect(server.stats.frameTimeoutConnectionsClosed).toBe(2);
    expect(server.stats.bufferedIncompleteFrameBytes).toBe(0);
    expect(good.connected).toBe(true);
  });
});
