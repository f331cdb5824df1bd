import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseCode } from './codes.js';
import { createRequest, createResponse } from './remoting-command.js';
import { encodeFrame } from './frame-codec.js';
import { RemotingClient } from './remoting-client.js';
import type { KarmanError } from './errors.js';
import { RefusalLog } from './refusal-log.js';
import { RemotingServer } from './remoting-server.js';
import { addressKey } from './address-key.js';
import { sleep, until } from '../test/wait.js';

const ECHO = 9001;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});



/** A raw socket from `localAddress` that sends one request and then stays, as a parked long poll does. */
async function parked(port: number, localAddress: string): Promise<Socket> {
  const socket = connectTcp({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  cleanups.push(async () => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(encodeFrame(createRequest(ECHO)));
  return socket;
}

describe('RemotingServer connection limit per address', () => {
  it('refuses an address past maxConnectionsPerAddress, keeps serving other addresses, and logs the refusals once per interval', async () => {
    const errors: string[] = [];
    const server = new RemotingServer({ host: '127.0.0.1', maxConnections: 300, maxConnectionsPerAddress: 100, refusalLogIntervalMillis: 60_000, onError: (e) => errors.push(e.message) });
    server.registerHandler(ECHO, (request) => createResponse(request, ResponseCode.SUCCESS.code));
    await server.listen();
    cleanups.push(() => server.close());

    // A flood from 127.0.0.2, more than the whole server allows.
    const flood: Socket[] = [];
    for (let i = 0; i < 400; i++) flood.push(await parked(server.port, '127.0.0.2'));
    await until(() => server.stats.refusedOverMaxConnectionsPerAddress === 300, '300 refusals');
    expect(server.stats.connections).toBe(100);
    expect(server.stats.refusedOverMaxConnections).toBe(0);

    // Everyone else (127.0.0.1) is still served: remoting, and plain HTTP.
    const clients = Array.from({ length: 5 }, () => new RemotingClient(`tcp://127.0.0.1:${server.port}`, { reconnect: false }));
    for (const client of clients) cleanups.push(() => client.close());
    for (const client of clients) expect((await client.request(createRequest(ECHO))).code).toBe(0);
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect(health.status).toBe(200);

    // One line at once; the rest are summed up when the interval ends (or the server closes), not one per socket.
    const refusals = (): string[] => errors.filter((m) => m.includes('maxConnectionsPerAddress'));
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]).toMatch(/refused 127\.0\.0\.2:\d+: 100 connections open from 127\.0\.0\.2 \(maxConnectionsPerAddress 100\)/);

    // Closing some of the flood makes room for that address again.
    for (const socket of flood.slice(0, 10)) socket.destroy();
    await until(() => server.stats.connections === 95, 'ten of the flood gone');
    const again = await parked(server.port, '127.0.0.2');
    await sleep(50);
    expect(again.destroyed).toBe(false);
    expect(server.stats.refusedOverMaxConnectionsPerAddress).toBe(300);
    await server.close();
    expect(refusals()).toHaveLength(2);
    expect(refusals()[1]).toBe('299 more connections refused (maxConnectionsPerAddress 100) from 127.0.0.2 since the first (summed up every 60000 ms)');
  });

  it('sums up the refusals of an interval in one line per kind and address when the interval ends', async () => {
    const lines: string[] = [];
    const log = new RefusalLog(100, (error) => lines.push(`${(error as KarmanError).code}: ${error.message}`));
    for (let i = 0; i < 5; i++) log.note('FRAME_TIMEOUT', '10.0.0.1', () => `first A ${i}`, 'As');
    log.note('FRAME_TIMEOUT', '10.0.0.2', () => 'first A from .2', 'As');
    log.note('TOO_MANY_CONNECTIONS', '10.0.0.1', () => 'first B', 'Bs');
    expect(lines).toEqual([
      'FRAME_TIMEOUT: first A 0 (further ones from 10.0.0.1 are summed up every 100 ms)',
      'FRAME_TIMEOUT: first A from .2 (further ones from 10.0.0.2 are summed up every 100 ms)',
      'TOO_MANY_CONNECTIONS: first B (further ones from 10.0.0.1 are summed up every 100 ms)',
    ]);
    await until(() => lines.length === 4, 'the summary');
    expect(lines[3]).toBe('FRAME_TIMEOUT: 4 more As from 10.0.0.1 since the first (summed up every 100 ms)');
    // A new interval starts with a line at once again.
    log.note('FRAME_TIMEOUT', '10.0.0.1', () => 'first A again', 'As');
    expect(lines[4]).toBe('FRAME_TIMEOUT: first A again (further ones from 10.0.0.1 are summed up every 100 ms)');
    log.flush();
  });

  it('counts an IPv4-mapped address as its IPv4 address and an IPv6 address by its /64', () => {
    const key = (remoteAddress: string): string => addressKey({ remoteAddress } as Socket);
    expect(key('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(key('10.0.0.7')).toBe('10.0.0.7');
    expect(key('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(key('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(key('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(key('::1')).toBe('0:0:0:0::/64');
  });
});
