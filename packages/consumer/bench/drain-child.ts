/** The consumer side of drain.bench.ts: drain COUNT messages, then report rate and own CPU. */
import { PushConsumer } from '../src/push-consumer.js';

const { NAMESRV, TOPIC, COUNT } = process.env;
const count = Number(COUNT);
let consumed = 0;
let done: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (done = resolve));
const consumer = new PushConsumer({
  nameservers: NAMESRV!,
  group: `BenchC_${process.pid}`,
  subscriptions: { [TOPIC!]: '*' },
  consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
  handler: () => {
    if (++consumed === count) done();
  },
});
const cpu = process.cpuUsage();
const began = process.hrtime.bigint();
await consumer.start();
await finished;
const wall = Number(process.hrtime.bigint() - began) / 1e9;
const used = process.cpuUsage(cpu);
await consumer.shutdown();
const cpuSeconds = (used.user + used.system) / 1e6;
console.log(`drain: ${count} messages in ${wall.toFixed(1)} s = ${Math.round(count / wall)} msg/s; consumer CPU ${cpuSeconds.toFixed(1)} s = ${Math.round((cpuSeconds / wall) * 100)} % of one core; RSS ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
