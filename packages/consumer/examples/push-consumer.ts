/**
 * The README's example: send ten messages and consume them with a PushConsumer.
 *
 *   node --conditions=@karman/source --import tsx examples/push-consumer.ts   (NAMESRV defaults to 127.0.0.1:9876)
 */
import { PushConsumer } from '@karman/consumer';
import { Producer } from '@karman/producer';

const nameservers = process.env.NAMESRV ?? '127.0.0.1:9876';
const topic = process.env.TOPIC ?? 'Orders';

await using producer = new Producer({ nameservers, group: 'orders-producer' });
await producer.start();
for (let i = 0; i < 10; i++) await producer.send({ topic, tags: 'created', keys: [`order-${i}`], body: JSON.stringify({ id: i }) });

let received = 0;
let resolve: () => void = () => undefined;
const allReceived = new Promise<void>((r) => (resolve = r));
await using consumer = new PushConsumer({
  nameservers,
  group: 'orders-service',
  subscriptions: { [topic]: 'created || paid' },
  consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
  handler: async (message, context) => {
    // Throwing (or returning 'RECONSUME_LATER') sends the message back for a retry later.
    console.log(`${message.topic} ${message.tags} ${message.keys.join(',')} ${message.body.toString()} (queue ${context.queue.queueId}, offset ${message.queueOffset})`);
    if (++received === 10) resolve();
  },
});
consumer.on('status', (status) => {
  if (status.type === 'rebalanced' && status.topic === topic) console.log(`consuming ${status.queues.length} queue(s) of ${topic}`);
});
await consumer.start();
await allReceived;
