import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ConnectionClosedError, InvalidArgumentError } from './errors.js';
import { FLAG_ONEWAY, createRequest } from './remoting-command.js';
import { FrameDecoder, decodeFrame } from './frame-codec.js';
import { RemotingClient, parseAddress } from './remoting-client.js';
import { sleep, until } from '../test/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});



/** Wait until `read()` stops changing for `quietMillis`. */
async function stalled(read: () => number, quietMillis = 150): Promise<number> {
  let last = read();
  for (;;) {
    await sleep(quietMillis);
    const now = read();
    if (now === last) return now;
    last = now;
  }
}

/**
 * A peer that reads nothing until told to: the raw remoting TCP or WebSocket server at the edge of
 * the test, counting the frames it eventually receives.
 */
async function pausedReader(transport: 'ws' | 'tcp'): Promise<{ address: string; received: () => number; resume: () => void }> {
  let received = 0;
  if (transport === 'tcp') {
    const sockets: Socket[] = [];
    const server: NetServer = createNetServer((socket) => {
      socket.pause();
      sockets.push(socket);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => (received += decoder.push(chunk).length));
      socket.pause();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    return { address: `tcp://127.0.0.1:${port}`, received: () => received, resume: () => sockets.forEach((s) => s.resume()) };
  }
  const peers: WebSocket[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.pause();
    peers.push(ws);
    ws.on('message', (data: Buffer) => {
      decodeFrame(data);
      received++;
    });
  });
  await once(wss, 'listening');
  cleanups.push(() => {
    for (const ws of peers) ws.terminate();
    wss.close();
  });
  const port = (wss.address() as { port: number }).port;
  return { address: `127.0.0.1:${port}`, received: () => received, resume: () => peers.forEach((ws) => ws.resume()) };
}

describe('parseAddress', () => {
  it('reads host:port as WebSocket, and ws:// and tcp:// explicitly', () => {
    expect(parseAddress('broker-a:10911')).toMatchObject({ transport: 'ws', url: 'ws://broker-a:10911/', host: 'broker-a', port: 10911 });
    expect(parseAddress('ws://127.0.0.1:9876/remoting')).toMatchObject({ transport: 'ws', url: 'ws://127.0.0.1:9876/remoting' });
    expect(parseAddress('tcp://[::1]:9876')).toMatchObject({ transport: 'tcp', host: '::1', port: 9876 });
  });

  it('refuses an address it cannot read, saying what to write', () => {
    for (const bad of ['', 'localhost', 'http://a:1', 'a:0', 'a:70000', 'tcp://a:1/path']) {
      expect(() => parseAddress(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => new RemotingClient('nowhere')).toThrow(/"host:port"/);
  });
});

describe('RemotingClient', () => {
  it('refuses bad options naming the option and the value', () => {
    expect(() => new RemotingClient('a:1', { maxInFlight: 0 })).toThrow(/option "maxInFlight".*got 0/);
    expect(() => new RemotingClient('a:1', { reconnect: { initialDelayMillis: 500, maxDelayMillis: 100 } })).toThrow(/maxDelayMillis/);
  });

  it.each(['ws', 'tcp'] as const)('rejects with ConnectionClosedError when nothing listens (%s)', async (transport) => {
    const server = createNetServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    server.close();
    const client = new RemotingClient(`${transport === 'tcp' ? 'tcp://' : ''}127.0.0.1:${port}`, { reconnect: false });
    cleanups.push(() => client.close());
    await expect(client.connect()).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(client.request(createRequest(105, { topic: 't' }))).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(client.connected).toBe(false);
  });

  it('refuses to send a oneway command through request() and a response through oneway()', async () => {
    const client = new RemotingClient('127.0.0.1:1', { reconnect: false });
    const oneway = createRequest(10);
    oneway.flag |= FLAG_ONEWAY;
    await expect(client.request(oneway)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.oneway({ ...createRequest(10), flag: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await client.close();
  });

  it.each(['ws', 'tcp'] as const)('holds a oneway flood at the high-water mark while the peer does not read, then delivers all (%s)', async (transport) => {
    const peer = await pausedReader(transport);
    const highWaterMark = 256 * 1024;
    const client = new RemotingClient(peer.address, { reconnect: false, highWaterMark });
    cleanups.push(() => client.close());
    await client.connect();
    const total = 40_000; // 40 MiB of 1 KiB bodies: more than any socket buffer holds
    const body = Buffer.alloc(1024, 7);
    let sent = 0;
    let peakBuffered = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    const flood = (async () => {
      for (let i = 0; i < total; i++) {
        await client.oneway(createRequest(10, { i }, body));
        sent++;
        peakBuffered = Math.max(peakBuffered, client.bufferedAmount);
      }
    })();
    const stuckAt = await stalled(() => sent);
    expect(stuckAt).toBeLessThan(total);
    // Memory held by the client is the high-water mark plus at most one frame, not the flood.
    expect(peakBuffered).toBeLessThanOrEqual(highWaterMark + 2048);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
    peer.resume();
    await flood;
    await until(() => peer.received() === total, 'every oneway to arrive', 20_000);
    expect(sent).toBe(total);
  });

  it.each(['ws', 'tcp'] as const)('holds large requests at the high-water mark too, timing out those that cannot be written (%s)', async (transport) => {
    const peer = await pausedReader(transport);
    const highWaterMark = 256 * 1024;
    const client = new RemotingClient(peer.address, { reconnect: false, highWaterMark, maxInFlight: 10_000 });
    cleanups.push(() => client.close());
    await client.connect();
    const body = Buffer.alloc(64 * 1024, 1);
    let peakBuffered = 0;
    const sampler = setInterval(() => (peakBuffered = Math.max(peakBuffered, client.bufferedAmount)), 1);
    // 300 × 64 KiB = 19 MiB against a peer that reads nothing: none can be answered.
    const results = await Promise.all(Array.from({ length: 300 }, () => client.request(createRequest(10, {}, body), { timeoutMillis: 400 }).catch((e: unknown) => e)));
    clearInterval(sampler);
    expect(results.every((r) => r instanceof Error && r.name === 'RequestTimeoutError')).toBe(true);
    expect(peakBuffered).toBeLessThanOrEqual(highWaterMark + body.length + 1024);
    expect(peer.received()).toBe(0);
  });
});

describe('RemotingClient WebSocket masking', () => {
  /** Raw bytes of the first frame a client sends after the upgrade, read off the server's socket. */
  async function firstFrameBytes(options: { wsMaskKey?: 'zero' | 'random' }): Promise<{ raw: Buffer; payload: Buffer }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    await once(wss, 'listening');
    const received = new Promise<{ raw: Buffer; payload: Buffer }>((resolve) => {
      wss.on('connection', (ws: WebSocket, req) => {
        const chunks: Buffer[] = [];
        req.socket.on('data', (d: Buffer) => chunks.push(d));
        // ws reads the socket before this listener sees the chunk: collect it after the message.
        ws.on('message', (payload: Buffer) => setImmediate(() => resolve({ raw: Buffer.concat(chunks), payload })));
      });
    });
    const { port } = wss.address() as { port: number };
    const client = new RemotingClient(`127.0.0.1:${port}`, { reconnect: false, ...options });
    cleanups.push(() => client.close());
    await client.oneway(createRequest(10, { topic: 'T' }, Buffer.from('masked body')));
    return received;
  }

  it('sends masked frames with the all-zero key by default, and the server reads them', async () => {
    const { raw, payload } = await firstFrameBytes({});
    expect(raw[1]! & 0x80).toBe(0x80); // MASK bit set, as RFC 6455 requires of clients
    const keyAt = (raw[1]! & 0x7f) === 126 ? 4 : 2; // a frame under 64 KiB
    expect([...raw.subarray(keyAt, keyAt + 4)]).toEqual([0, 0, 0, 0]);
    expect(decodeFrame(payload).body?.toString()).toBe('masked body');
  });

  it("sends random keys with wsMaskKey 'random'", async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { raw, payload } = await firstFrameBytes({ wsMaskKey: 'random' });
      const keyAt = (raw[1]! & 0x7f) === 126 ? 4 : 2;
      keys.add(raw.subarray(keyAt, keyAt + 4).toString('hex'));
      expect(decodeFrame(payload).body?.toString()).toBe('masked body');
    }
    expect(keys.has('00000000')).toBe(false);
    expect(keys.size).toBeGreaterThan(1);
  });
});
