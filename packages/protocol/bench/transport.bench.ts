/**
 * Transport benchmark: Karman's RemotingServer/RemotingClient against the raw floor, in one run.
 *
 *   cd packages/protocol && pnpm bench
 *
 * Environment: BENCH_MESSAGES, BENCH_ROUND_TRIPS, BENCH_RUNS change sizes; BENCH_ONLY=ws|tcp runs one
 * transport; BENCH_PROFILE_DIR=<dir> writes a V8 CPU profile of each server child there (run the
 * parent with `node --cpu-prof --import tsx bench/transport.bench.ts` to profile the client side).
 *
 * For each transport (WebSocket, remoting TCP) it measures, with 1 KiB bodies:
 *   - request→response round trips, one at a time: p50 and p99;
 *   - pipelined oneway throughput: N oneways, then one round trip to know the server processed all.
 * Each beside the raw floor: a plain `ws` / `net` echo server in the same kind of child process,
 * fed the same frame bytes (pre-encoded once, no parsing, no correlation), driven the way
 * ../../shared/peerbench/{ws,net}_client.js drive their peers. Servers run in a child process, as the
 * peers did, so client and server each get a core. Prints a markdown table with ratios.
 *
 * Read the TCP row knowing that Karman's channel encodes the frames sent within one tick into one
 * buffer and writes it once, while the raw net floor writes each frame on its own as the peer client
 * does: that is a real property of Karman's sender, not of the benchmark, and it is why Karman can
 * come close to (or pass) the floor on TCP. On WebSocket each frame is one `ws.send` on both sides.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectTcp, createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { RemotingClient } from '../src/remoting-client.js';
import { RemotingServer } from '../src/remoting-server.js';
import { FLAG_ONEWAY, SerializeType, createRequest, createResponse } from '../src/remoting-command.js';
import { encodeFrame } from '../src/frame-codec.js';
import type { RemotingCommand } from '../src/remoting-command.js';

const ONEWAY_CODE = 9101;
const ECHO_CODE = 9102;
const BODY = Buffer.alloc(1024, 0x62);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 5_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WS_HIGH_WATER = 4 << 20; // the peer ws client's drain threshold
/** BENCH_SERIALIZE=rocketmq sends RocketMQ's binary header instead of JSON. */
const SERIALIZE = process.env.BENCH_SERIALIZE === 'rocketmq' ? SerializeType.ROCKETMQ : SerializeType.JSON;

function benchRequest(code: number): RemotingCommand {
  const command = createRequest(code, {}, BODY);
  command.serializeType = SERIALIZE;
  return command;
}

type ServerKind = 'karman' | 'raw-net' | 'raw-ws';
type Transport = 'ws' | 'tcp';

// ---------------------------------------------------------------------------------------------
// Child: one server

async function serve(kind: ServerKind): Promise<void> {
  let port: number;
  if (kind === 'karman') {
    const server = new RemotingServer({ host: '127.0.0.1' });
    server.registerHandler(ONEWAY_CODE, () => undefined);
    server.registerHandler(ECHO_CODE, (request) => createResponse(request, 0, undefined, {}, request.body));
    port = (await server.listen()).port;
  } else if (kind === 'raw-net') {
    // Parses [u32 length][rest] frames; the first frame is JSON control {mode, n}. 'echo': every
    // frame goes back as is; 'count': after n frames, one 8-byte reply.
    const server = createNetServer((socket) => {
      socket.setNoDelay(true);
      let left: Buffer | null = null;
      let mode = '';
      let expected = -1;
      let count = 0;
      socket.on('data', (chunk: Buffer) => {
        const buf: Buffer = left ? Buffer.concat([left, chunk]) : chunk;
        let off = 0;
        let echo: Buffer[] | null = null;
        while (buf.length - off >= 4) {
          const len = buf.readUInt32BE(off);
          if (buf.length - off - 4 < len) break;
          if (expected < 0) {
            const control = JSON.parse(buf.toString('utf8', off + 4, off + 4 + len)) as { mode: string; n: number };
            mode = control.mode;
            expected = control.n;
            count = 0;
          } else if (mode === 'echo') {
            (echo ??= []).push(buf.subarray(off, off + 4 + len));
          } else if (++count === expected) {
            socket.write(Buffer.alloc(8));
            expected = -1;
          }
          off += 4 + len;
        }
        left = off < buf.length ? buf.subarray(off) : null;
        if (echo) socket.write(echo.length === 1 ? echo[0]! : Buffer.concat(echo));
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  } else {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      let mode = '';
      let expected = -1;
      let count = 0;
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) {
          const control = JSON.parse(data.toString()) as { mode: string; n: number };
          mode = control.mode;
          expected = control.n;
          count = 0;
        } else if (mode === 'echo') {
          ws.send(data, { binary: true });
        } else if (++count === expected) {
          ws.send(Buffer.alloc(8), { binary: true });
        }
      });
    });
    await once(wss, 'listening');
    port = (wss.address() as { port: number }).port;
  }
  process.on('message', (message) => {
    if (message === 'exit') process.exit(0);
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.send?.({ port });
}

// ---------------------------------------------------------------------------------------------
// Parent: clients and measurements

async function startChild(kind: ServerKind): Promise<{ child: ChildProcess; port: number }> {
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind], { execArgv: ['--import', 'tsx', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: message.port };
}

/** CPU time (µs) the child has used so far. */
async function childCpu(child: ChildProcess): Promise<number> {
  const reply = new Promise<number>((resolve) => {
    const onMessage = (message: { cpu?: NodeJS.CpuUsage }): void => {
      if (!message.cpu) return;
      child.off('message', onMessage);
      resolve(message.cpu.user + message.cpu.system);
    };
    child.on('message', onMessage);
  });
  child.send('cpu');
  return reply;
}

/** Run `phase` and return its wall time (s) and the CPU share (%) of this process and of `child` over it. */
async function timed(child: ChildProcess, phase: () => Promise<void>): Promise<{ secs: number; clientCpu: number; serverCpu: number }> {
  const serverBefore = await childCpu(child);
  const clientBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await phase();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = await childCpu(child);
  return { secs, clientCpu: ((client.user + client.system) / 1e6 / secs) * 100, serverCpu: ((serverAfter - serverBefore) / 1e6 / secs) * 100 };
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.send('exit'); // a clean exit, so a CPU profile gets written
  await exited;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

interface Result {
  p50: number;
  p99: number;
  throughput: number;
  /** CPU % of client and server during the median throughput run. */
  clientCpu: number;
  serverCpu: number;
}

/** The median run by throughput. */
function medianRun(runs: Array<{ secs: number; clientCpu: number; serverCpu: number }>): { throughput: number; clientCpu: number; serverCpu: number } {
  const sorted = [...runs].sort((a, b) => a.secs - b.secs);
  const run = sorted[Math.floor(sorted.length / 2)]!;
  return { throughput: MESSAGES / run.secs, clientCpu: run.clientCpu, serverCpu: run.serverCpu };
}

/** Karman: RemotingClient against RemotingServer. */
async function measureKarman(transport: Transport, port: number, child: ChildProcess): Promise<Result> {
  const client = new RemotingClient(transport === 'tcp' ? `tcp://127.0.0.1:${port}` : `127.0.0.1:${port}`, { reconnect: false });
  await client.connect();
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + 500; i++) {
    const started = process.hrtime.bigint();
    await client.request(benchRequest(ECHO_CODE));
    if (i >= 500) latencies.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  latencies.sort((a, b) => a - b);
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    runs.push(
      await timed(child, async () => {
        for (let i = 0; i < MESSAGES; i++) await client.oneway(benchRequest(ONEWAY_CODE));
        await client.request(benchRequest(ECHO_CODE), { timeoutMillis: 60_000 });
      }),
    );
  }
  await client.close();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ...medianRun(runs) };
}

/** The same frame bytes Karman sends for a 1 KiB oneway, encoded once. */
function onewayFrame(): Buffer {
  const command = benchRequest(ONEWAY_CODE);
  command.flag |= FLAG_ONEWAY;
  return encodeFrame(command);
}

function controlFrame(mode: string, n: number): Buffer {
  const json = Buffer.from(JSON.stringify({ mode, n }));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  return Buffer.concat([head, json]);
}

/** Raw net floor, driven like peerbench/net_client.js (one write per message, honouring drain). */
async function measureRawNet(port: number, child: ChildProcess): Promise<Result> {
  const frame = onewayFrame();
  const connectOnce = async (): Promise<Socket> => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await once(socket, 'connect');
    return socket;
  };
  const echo = await connectOnce();
  echo.write(controlFrame('echo', 0));
  const latencies: number[] = [];
  let pending: (() => void) | null = null;
  let received = 0;
  echo.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received >= frame.length && pending) {
      received -= frame.length;
      const wake = pending;
      pending = null;
      wake();
    }
  });
  for (let i = 0; i < ROUND_TRIPS + 500; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      echo.write(frame);
    });
    if (i >= 500) latencies.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  echo.destroy();
  latencies.sort((a, b) => a - b);
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const socket = await connectOnce();
    const done = once(socket, 'data');
    socket.write(controlFrame('count', MESSAGES));
    runs.push(
      await timed(child, async () => {
        for (let i = 0; i < MESSAGES; i++) if (!socket.write(frame)) await once(socket, 'drain');
        await done;
      }),
    );
    socket.destroy();
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ...medianRun(runs) };
}

/** Raw ws floor, driven like peerbench/ws_client.js (drain above 4 MiB, yield every 1024 sends). */
async function measureRawWs(port: number, child: ChildProcess): Promise<Result> {
  const frame = onewayFrame();
  const open = async (): Promise<{ ws: WebSocket; socket: Socket }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    let socket: Socket | undefined;
    ws.once('upgrade', (response) => (socket = response.socket as Socket));
    await once(ws, 'open');
    return { ws, socket: socket! };
  };
  const { ws: echo } = await open();
  echo.send(JSON.stringify({ mode: 'echo', n: 0 }));
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + 500; i++) {
    const started = process.hrtime.bigint();
    const reply = once(echo, 'message');
    echo.send(frame, { binary: true });
    await reply;
    if (i >= 500) latencies.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  echo.terminate();
  latencies.sort((a, b) => a - b);
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const { ws, socket } = await open();
    const done = once(ws, 'message');
    ws.send(JSON.stringify({ mode: 'count', n: MESSAGES }));
    runs.push(
      await timed(child, async () => {
        for (let i = 1; i <= MESSAGES; i++) {
          ws.send(frame, { binary: true });
          if (ws.bufferedAmount > WS_HIGH_WATER) await once(socket, 'drain');
          else if ((i & 1023) === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await done;
      }),
    );
    ws.terminate();
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ...medianRun(runs) };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const transports = (['ws', 'tcp'] as const).filter((t) => (process.env.BENCH_ONLY ?? t) === t);
  for (const transport of transports) {
    const raw = await startChild(transport === 'ws' ? 'raw-ws' : 'raw-net');
    const floor = transport === 'ws' ? await measureRawWs(raw.port, raw.child) : await measureRawNet(raw.port, raw.child);
    await stopChild(raw.child);
    const ours = await startChild('karman');
    const karman = await measureKarman(transport, ours.port, ours.child);
    await stopChild(ours.child);
    const name = transport === 'ws' ? 'WebSocket' : 'remoting TCP';
    rows.push(`| ${name} | pipelined oneway, msg/s | ${fmt(karman.throughput)} | ${fmt(floor.throughput)} | ${(karman.throughput / floor.throughput).toFixed(2)}× |`);
    rows.push(`| ${name} | CPU % client / server (oneway run) | ${fmt(karman.clientCpu)} / ${fmt(karman.serverCpu)} | ${fmt(floor.clientCpu)} / ${fmt(floor.serverCpu)} | |`);
    // Throughput per CPU-second of client + server: comparable even when other work on the box
    // leaves the two processes less than a core each.
    const perCpu = (r: Result): number => r.throughput / ((r.clientCpu + r.serverCpu) / 100);
    rows.push(`| ${name} | oneway msgs per CPU-second (client + server) | ${fmt(perCpu(karman))} | ${fmt(perCpu(floor))} | ${(perCpu(karman) / perCpu(floor)).toFixed(2)}× |`);
    rows.push(`| ${name} | round trip p50, µs | ${fmt(karman.p50)} | ${fmt(floor.p50)} | ${(karman.p50 / floor.p50).toFixed(2)}× |`);
    rows.push(`| ${name} | round trip p99, µs | ${fmt(karman.p99)} | ${fmt(floor.p99)} | ${(karman.p99 / floor.p99).toFixed(2)}× |`);
  }
  console.log(`\nKarman transports vs raw floor — 1 KiB bodies, ${SERIALIZE === SerializeType.JSON ? 'JSON' : 'ROCKETMQ binary'} headers, ${MESSAGES.toLocaleString('en-US')} oneways × ${RUNS} runs (median), ${ROUND_TRIPS.toLocaleString('en-US')} round trips; ${new Date().toISOString().slice(0, 10)}, Node ${process.version}\n`);
  console.log('| transport | measure | Karman | raw floor | Karman / floor |');
  console.log('|---|---|---:|---:|---:|');
  for (const row of rows) console.log(row);
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as ServerKind);
else await main();
