/**
 * Route-query benchmark: GET_ROUTEINFO_BY_TOPIC throughput and latency against a nameserver holding
 * 10,000 topics across 10 brokers (each topic on every broker, so each route names 10 brokers),
 * over the real transport, beside a floor: a trivial echo handler on the same RemotingServer,
 * measured in the same run with the same clients and concurrency.
 *
 *   pnpm bench            (in packages/nameserver)
 *   BENCH_REQUESTS=20000 BENCH_CONCURRENCY=64 pnpm bench
 *
 * Prints a Markdown table for the README. Bounded: a fixed request count per case, all on loopback.
 */
import { performance } from 'node:perf_hooks';
import { RemotingClient, RequestCode, createRequest, createResponse } from '@karman/protocol';
import { startNameServer } from '../src/name-server.js';
import { encodeRegisterBrokerBody } from '../src/register-broker-body.js';

const TOPICS = 10_000;
const BROKERS = 10;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const CLIENTS = 4;
const ECHO_CODE = 9_999;

interface Result {
  name: string;
  transport: string;
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(name: string, transport: string, clients: RemotingClient[], makeRequest: (i: number) => ReturnType<typeof createRequest>, check: (code: number) => boolean): Promise<Result> {
  // Warm up connections and JIT.
  await Promise.all(Array.from({ length: 500 }, (_, i) => clients[i % clients.length]!.request(makeRequest(i))));
  const latencies = new Float64Array(REQUESTS);
  let next = 0;
  let failures = 0;
  let firstFailure = '';
  const start = performance.now();
  const worker = async (w: number): Promise<void> => {
    const client = clients[w % clients.length]!;
    for (;;) {
      const i = next++;
      if (i >= REQUESTS) return;
      const t0 = performance.now();
      const response = await client.request(makeRequest(i));
      latencies[i] = performance.now() - t0;
      if (!check(response.code)) {
        failures++;
        firstFailure ||= `code ${response.code}: ${response.remark ?? ''}`;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const seconds = (performance.now() - start) / 1000;
  if (failures > 0) throw new Error(`${name}: ${failures} requests failed, the first with ${firstFailure}`);
  latencies.sort();
  return { name, transport, requests: REQUESTS, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0 });
  ns.remotingServer.registerHandler(ECHO_CODE, (request) => createResponse(request, 0, undefined, {}, request.body));
  const topics = Array.from({ length: TOPICS }, (_, i) => ({ topicName: `BenchTopic${String(i).padStart(5, '0')}`, readQueueNums: 8, writeQueueNums: 8, perm: 6, topicSysFlag: 0, order: false }));
  const setupStart = performance.now();
  const registrar = new RemotingClient(`tcp://${ns.address}`, { reconnect: false, requestTimeoutMillis: 30_000 });
  for (let b = 0; b < BROKERS; b++) {
    const response = await registrar.request(
      createRequest(
        RequestCode.REGISTER_BROKER.code,
        { clusterName: 'BenchCluster', brokerName: `bench-broker-${b}`, brokerAddr: `127.0.2.${b + 1}:10911`, haServerAddr: `127.0.2.${b + 1}:10912`, brokerId: 0 },
        encodeRegisterBrokerBody(topics, { timestamp: Date.now(), counter: 1 }),
      ),
    );
    if (response.code !== 0) throw new Error(`registration failed: ${response.remark}`);
  }
  const sample = await registrar.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'BenchTopic00042' }));
  const routeBytes = sample.body?.length ?? 0;
  if (sample.code !== 0) throw new Error(`route query failed after setup: ${sample.remark}`);
  process.stderr.write(`setup (10 registrations of ${TOPICS} topics) took ${Math.round(performance.now() - setupStart)} ms\n`);
  // The registrar stays connected: the brokers registered over it leave the moment it closes.

  const results: Result[] = [];
  for (const transport of ['ws', 'tcp'] as const) {
    const address = transport === 'tcp' ? `tcp://${ns.address}` : ns.address;
    const clients = Array.from({ length: CLIENTS }, () => new RemotingClient(address, { reconnect: false, requestTimeoutMillis: 30_000 }));
    results.push(await measure('echo floor', transport, clients, () => createRequest(ECHO_CODE, {}), (code) => code === 0));
    results.push(
      await measure('GET_ROUTEINFO_BY_TOPIC', transport, clients, (i) => createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: topics[(i * 7919) % TOPICS]!.topicName }), (code) => code === 0),
    );
    await Promise.all(clients.map((c) => c.close()));
  }
  await registrar.close();
  await ns.close();

  const lines = [
    `Route query benchmark, ${new Date().toISOString().slice(0, 10)}: ${TOPICS} topics x ${BROKERS} brokers (route body ${routeBytes} bytes), ${CLIENTS} clients, ${CONCURRENCY} requests in flight, ${REQUESTS} requests per row, Node ${process.version}, ${process.platform}/${process.arch}.`,
    '',
    '| case | transport | requests/s | p50 ms | p99 ms |',
    '| --- | --- | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.name} | ${r.transport} | ${Math.round(r.requests / r.seconds).toLocaleString('en-US')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    // Exit now: open sockets of a failed run must not keep the benchmark alive.
    process.exit(1);
  },
);
