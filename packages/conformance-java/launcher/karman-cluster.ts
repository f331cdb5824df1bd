/**
 * The Karman cluster a Java test class drives: the testkit's process cluster (karman-nameserver and
 * karman-broker processes from this repository's sources, on free ports, in a temporary folder),
 * controlled over this process's standard input and output with one JSON object per line.
 *
 *   node --conditions=@karman/source --import tsx launcher/karman-cluster.ts '{"brokerNames":["broker-a"]}'
 *
 * The argument is the cluster's options (`brokerNames`, `slavesPerGroup`, `brokerArgs`,
 * `nameserverArgs`; all optional). Once every member listens it prints
 * `{"ready":true,"namesrvAddr":"127.0.0.1:P","brokers":{"broker-a":"127.0.0.1:Q"}}`. Then each
 * request line `{"id":N,"op":...}` is answered with `{"id":N,"ok":true,...}` or
 * `{"id":N,"ok":false,"error":"..."}`:
 *
 *   createTopic  {topic, queues?, order?, brokers?}   UPDATE_AND_CREATE_TOPIC on masters, waits for the route
 *   stopBroker   {brokerName?, brokerId?}             SIGTERM one broker
 *   startBroker  {brokerName?, brokerId?}             start it again on its port and store
 *
 * End of input (the Java side closing the pipe, or its JVM dying) stops the cluster and exits, so
 * no process outlives the test run.
 */
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { startProcessCluster } from '@karman/testkit';
import type { ProcessCluster } from '@karman/testkit';

const ClusterSpecSchema = z.object({
  brokerNames: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).min(1).default(['broker-a']),
  slavesPerGroup: z.number().int().min(0).max(2).default(0),
  brokerArgs: z.array(z.string()).default([]),
  nameserverArgs: z.array(z.string()).default([]),
});

const RequestSchema = z.discriminatedUnion('op', [
  z.object({ id: z.number(), op: z.literal('createTopic'), topic: z.string().min(1), queues: z.number().int().min(1).max(1024).optional(), order: z.boolean().optional(), brokers: z.array(z.string()).optional() }),
  z.object({ id: z.number(), op: z.literal('stopBroker'), brokerName: z.string().default('broker-a'), brokerId: z.number().int().default(0) }),
  z.object({ id: z.number(), op: z.literal('startBroker'), brokerName: z.string().default('broker-a'), brokerId: z.number().int().default(0) }),
]);

function reply(value: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function handle(cluster: ProcessCluster, line: string): Promise<void> {
  let id: unknown;
  try {
    const raw = JSON.parse(line) as { id?: unknown };
    id = raw.id;
    const request = RequestSchema.parse(raw);
    if (request.op === 'createTopic') {
      await cluster.createTopic(request.topic, { queues: request.queues, order: request.order, brokers: request.brokers });
    } else if (request.op === 'stopBroker') {
      await cluster.stopBroker(request.brokerName, request.brokerId);
    } else {
      await cluster.startBroker(request.brokerName, request.brokerId);
    }
    reply({ id, ok: true });
  } catch (error) {
    reply({ id, ok: false, error: (error as Error).message });
  }
}

async function main(): Promise<void> {
  const spec = ClusterSpecSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const cluster = await startProcessCluster({ brokerNames: spec.brokerNames, slavesPerGroup: spec.slavesPerGroup, brokerArgs: spec.brokerArgs, nameserverArgs: spec.nameserverArgs, startTimeoutMillis: 60_000 });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= cluster.close().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  reply({ ready: true, namesrvAddr: cluster.namesrvAddr, brokers: Object.fromEntries(spec.brokerNames.map((name) => [name, cluster.brokerAddr(name)])) });
  const input = createInterface({ input: process.stdin });
  // Requests are handled one at a time, in order, as the Java side sends and waits for each.
  let queue = Promise.resolve();
  input.on('line', (line) => {
    if (line.trim() === '') return;
    queue = queue.then(() => handle(cluster, line));
  });
  input.on('close', () => void queue.then(close));
}

main().catch((error: unknown) => {
  process.stderr.write(`karman-cluster launcher: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
