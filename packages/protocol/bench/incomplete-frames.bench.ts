/**
 * Incomplete-frame benchmark: the RSS of a RemotingServer while thousands of peers each announce a
 * 16 MiB frame and never finish it, with the incomplete-frame budget (the default, 64 MiB) and,
 * in the same run, without one (the budget raised to 1 TiB and the frame timeout to a day, as the
 * server was before it had either).
 *
 *   cd packages/protocol && pnpm bench:incomplete-frames
 *
 * (the script raises `ulimit -n` to the hard limit: the server holds 10,000 sockets, the benchmark
 * the other 10,000 ends). Environment: BENCH_CONNECTIONS (10000), BENCH_PARTIAL_BYTES (65536,
 * sent on each of those connections), BENCH_LARGE_CONNECTIONS (40) and BENCH_LARGE_PARTIAL_BYTES
 * (15 MiB), the flood first reported. BENCH_TARGET=host:port with BENCH_TARGET_PID=<pid> floods a running
 * karman-broker instead (reading its RSS from /proc and its counters from /metrics; start it with
 * `--set maxConnections=10100` so the reference connections and the flood both fit), and
 * BENCH_TARGET_MODE=unbounded labels a broker started without a budget
 * (`--set maxBufferedIncompleteFrameBytes=1099511627776 --set frameCompleteTimeoutMillis=86400000`).
 * BENCH_ONLY=large|many runs one of the two scenarios.
 *
 * Each scenario runs against a fresh server in a child process: its RSS idle; with the same number
 * of connections that sent one whole frame (the reference: what the connections themselves cost);
 * then, peak and settled, with the incomplete frames. The peers come from ten loopback addresses
 * (127.0.0.11 to 127.0.0.20) so that `maxConnectionsPerAddress` (1000) lets 10,000 in, and
 * `maxConnections` is raised by one for a well-behaved client, whose round trip is timed during
 * the flood. Prints a markdown table; the figures are in the package README.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RemotingClient } from '../src/remoting-client.js';
import { RemotingServer } from '../src/remoting-server.js';
import type { RemotingServerStats } from '../src/server-options.js';
import { createRequest, createResponse } from '../src/remoting-command.js';
import { encodeFrame } from '../src/frame-codec.js';

const MiB = 1024 * 1024;
const ECHO = 9102;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const PARTIAL_BYTES = Number(process.env.BENCH_PARTIAL_BYTES ?? 64 * 1024);
const LARGE_CONNECTIONS = Number(process.env.BENCH_LARGE_CONNECTIONS ?? 40);
const LARGE_PARTIAL_BYTES = Number(process.env.BENCH_LARGE_PARTIAL_BYTES ?? 15 * MiB);
// Not 127.0.0.1: the well-behaved client and the probes of /metrics come from there and must not
// share the flood's per-address limit.
const ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 11}`);
const BUDGET = 64 * MiB;

type Mode = 'budget' | 'unbounded';

interface Probe {
  rss: number;
  peakRss: number;
  stats: RemotingServerStats;
}

// ---------------------------------------------------------------------------------------------
// Child: one server, sampling its own RSS

async function serve(mode: Mode, connections: number): Promise<void> {
  const server = new RemotingServer({
    host: '127.0.0.1',
    maxConnections: connections + 1,
    ...(mode === 'unbounded' ? { maxBufferedIncompleteFrameBytes: 2 ** 40, frameCompleteTimeoutMillis: 86_400_000 } : {}),
  });
  server.registerHandler(ECHO, (request) => createResponse(request, 0));
  const { port } = await server.listen();
  let peakRss = process.memoryUsage.rss();
  setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10).unref();
  process.on('message', (message) => {
    if (message === 'exit') process.exit(0);
    if (message === 'reset-peak') peakRss = process.memoryUsage.rss();
    if (message === 'probe') {
      globalThis.gc?.();
      const rss = process.memoryUsage.rss();
      process.send?.({ rss, peakRss: Math.max(peakRss, rss), stats: server.stats } satisfies Probe);
    }
  });
  process.send?.({ port });
}

// ---------------------------------------------------------------------------------------------
// Parent

/** The server under test: a child started here, or an external process (BENCH_TARGET). */
interface Target {
  port: number;
  probe(): Promise<Probe>;
  resetPeak(): void;
  close(): Promise<void>;
}

async function startChild(mode: Mode, connections: number): Promise<Target> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', mode, String(connections)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await once(child, 'message')) as [{ port: number }];
  return {
    port: message.port,
    probe: async () => {
      child.send('probe');
      const [answer] = (await once(child, 'message')) as [Probe];
      return answer;
    },
    resetPeak: () => child.send('reset-peak'),
    close: async () => {
      child.send('exit');
      await once(child, 'exit');
    },
  };
}

/**
 * A running broker or nameserver: its RSS read from /proc (sampled every 10 ms for the peak), its
 * counters from the broker's `/metrics` (zeros where a series is missing).
 */
function externalTarget(address: string, pid: number): Target {
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  let peakRss = rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rss())), 10);
  const port = Number(address.split(':').pop());
  return {
    port,
    probe: async () => {
      const text = await (await fetch(`http://${address}/metrics`)).text();
      const series = (name: string): number => Number(new RegExp(`^karman_remoting_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      const now = rss();
      const stats: RemotingServerStats = {
        connections: series('connections'),
        bufferedIncompleteFrameBytes: series('incomplete_frame_bytes'),
        peakBufferedIncompleteFrameBytes: series('incomplete_frame_bytes_peak'),
        incompleteFrameConnectionsClosed: series('closed_connections_total\\{reason="incomplete_frame_budget"\\}'),
        frameTimeoutConnectionsClosed: series('closed_connections_total\\{reason="frame_timeout"\\}'),
        refusedOverMaxConnections: series('refused_connections_total\\{reason="max_connections"\\}'),
        refusedOverMaxConnectionsPerAddress: series('refused_connections_total\\{reason="max_connections_per_address"\\}'),
        busyRequests: series('busy_requests_total'),
      };
      return { rss: now, peakRss: Math.max(peakRss, now), stats };
    },
    resetPeak: () => (peakRss = rss()),
    close: async () => clearInterval(sampler),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Open `count` sockets from the ten loopback addresses, each writing `bytes`; resolves when all are connected (or refused). */
async function open(port: number, count: number, bytes: (i: number) => Buffer[]): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let start = 0; start < count; start += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, (_, k) => {
        const i = start + k;
        const socket = connectTcp({ host: '127.0.0.1', port, localAddress: ADDRESSES[i % ADDRESSES.length] });
        sockets.push(socket);
        socket.on('error', () => {});
        return new Promise<void>((resolve) => {
          socket.once('connect', () => {
            for (const chunk of bytes(i)) socket.write(chunk);
            resolve();
          });
          socket.once('close', () => resolve());
        });
      }),
    );
  }
  return sockets;
}

/** Wait until every socket has handed its bytes to the kernel or is closed, and the server's count has settled. */
async function settle(target: Target, sockets: Socket[]): Promise<Probe> {
  let last = -1;
  for (;;) {
    await sleep(250);
    const flushed = sockets.every((s) => s.destroyed || s.writableLength === 0);
    const now = await target.probe();
    const held = now.stats.bufferedIncompleteFrameBytes;
    if (flushed && held === last) return now;
    last = held;
  }
}

function frameStart(): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(16 * MiB - 4, 0);
  head.writeUInt32BE(64, 4);
  return head;
}

async function roundTripMicros(client: RemotingClient): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = process.hrtime.bigint();
    await client.request(createRequest(ECHO), { timeoutMillis: 10_000 });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

interface Row {
  scenario: string;
  mode: Mode;
  idle: number;
  reference: number;
  peak: number;
  settled: number;
  held: number;
  closed: number;
  rttIdle: number;
  rttFlood: number;
}

async function scenario(name: string, mode: Mode, connections: number, partialBytes: number): Promise<Row> {
  const external = process.env.BENCH_TARGET;
  const target = external ? externalTarget(external, Number(process.env.BENCH_TARGET_PID)) : await startChild(mode, connections);
  const { port } = target;
  const host = external ? external.slice(0, external.lastIndexOf(':')) : '127.0.0.1';
  const client = new RemotingClient(`tcp://${host}:${port}`, { reconnect: false });
  try {
    await client.connect();
    const rttIdle = await roundTripMicros(client);
    const idle = (await target.probe()).rss;
    // Reference: the same connections, each with one whole frame and nothing pending.
    const whole = encodeFrame(createRequest(ECHO));
    const plain = await open(port, connections, () => [whole]);
    const reference = (await settle(target, plain)).rss;
    for (const socket of plain) socket.destroy();
    while ((await target.probe()).stats.connections > 2) await sleep(100);
    target.resetPeak();
    const closedBefore = (await target.probe()).stats.incompleteFrameConnectionsClosed;
    const payload = Buffer.alloc(partialBytes - 8, 0x61);
    const head = frameStart();
    const flood = await open(port, connections, () => [head, payload]);
    const rttFlood = await roundTripMicros(client);
    const after = await settle(target, flood);
    for (const socket of flood) socket.destroy();
    return {
      scenario: name,
      mode,
      idle,
      reference,
      peak: after.peakRss,
      settled: after.rss,
      held: after.stats.bufferedIncompleteFrameBytes,
      closed: after.stats.incompleteFrameConnectionsClosed - closedBefore,
      rttIdle,
      rttFlood,
    };
  } finally {
    await client.close();
    await target.close();
  }
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(0);
}

async function main(): Promise<void> {
  const scenarios: Array<[string, number, number]> = [
    [`${LARGE_CONNECTIONS} × ${mib(LARGE_PARTIAL_BYTES)} MiB of a 16 MiB frame`, LARGE_CONNECTIONS, LARGE_PARTIAL_BYTES],
    [`${CONNECTIONS.toLocaleString('en-US')} × ${PARTIAL_BYTES / 1024} KiB of a 16 MiB frame`, CONNECTIONS, PARTIAL_BYTES],
  ];
  const rows: Row[] = [];
  // BENCH_ONLY=large or many runs one scenario (an external server is best measured fresh for each).
  const only = process.env.BENCH_ONLY;
  for (const [name, connections, partial] of scenarios.filter((_, i) => only === undefined || only === (i === 0 ? 'large' : 'many'))) {
    // An external server is measured as it is configured (BENCH_TARGET_MODE says which it is).
    const modes: readonly Mode[] = process.env.BENCH_TARGET ? [process.env.BENCH_TARGET_MODE === 'unbounded' ? 'unbounded' : 'budget'] : ['unbounded', 'budget'];
    for (const mode of modes) {
      const row = await scenario(name, mode, connections, partial);
      rows.push(row);
      console.error(`${name} ${mode}: peak RSS ${mib(row.peak)} MiB`);
    }
  }
  console.log(`Node ${process.version}, ${new Date().toISOString()}; budget ${mib(BUDGET)} MiB (maxBufferedIncompleteFrameBytes default)\n`);
  console.log('| peers | server | RSS idle MiB | RSS, same connections with whole frames MiB (reference) | peak RSS under the flood MiB | settled RSS MiB | (peak − reference) ÷ budget | held in incomplete frames MiB | peers closed | echo p50 µs idle → under flood |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const server = r.mode === 'budget' ? 'budget 64 MiB (default)' : 'no budget (as before)';
    console.log(`| ${r.scenario} | ${server} | ${mib(r.idle)} | ${mib(r.reference)} | ${mib(r.peak)} | ${mib(r.settled)} | ${((r.peak - r.reference) / BUDGET).toFixed(2)}× | ${mib(r.held)} | ${r.closed.toLocaleString('en-US')} | ${r.rttIdle.toFixed(0)} → ${r.rttFlood.toFixed(0)} |`);
  }
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as Mode, Number(process.argv[4]));
} else {
  await main();
}
