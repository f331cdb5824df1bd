// The ali-ons side of the conformance suite: a child process that drives the unmodified ali-ons
// 3.12.0 client on behalf of a test. Plain JavaScript run with plain `node`, so nothing of ours
// (no tsx, no Karman package) is loaded next to the client.
//
// Wire between the test and this process, one JSON object per line:
//   stdin  (commands)  {"id":1,"op":"producer","name":"p","options":{...}}
//   stdout (replies)   {"reply":1,"ok":true,"value":...}  or  {"reply":1,"ok":false,"error":"..."}
//   stdout (events)    {"event":"message","consumer":"c","message":{...}}
//                      {"event":"queues","consumer":"c","topic":"T","queueIds":[0,1]}
//                      {"event":"error","source":"c","error":"..."}  (the client's `error` events)
//                      {"event":"log","level":"warn","text":"..."}   (the client's own warn/error log)
// Commands run concurrently (50 sends in flight at once are 50 commands). Bodies travel as base64.
//
// The client never lets its process exit after close() (its static inner producer keeps loops
// alive), so the test ends this process with a signal; `exit` is only a convenience.
import { format } from 'node:util';
import { Consumer, Message, Producer } from 'ali-ons';

const nameSrv = process.env.KARMAN_NAMESRV;
if (!nameSrv) {
  process.stderr.write('ali-ons-agent: set KARMAN_NAMESRV to the nameserver host:port\n');
  process.exit(2);
}

function emit(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

const logger = {
  info() {},
  debug() {},
  warn: (...args) => emit({ event: 'log', level: 'warn', text: format(...args) }),
  error: (...args) => emit({ event: 'log', level: 'error', text: format(...args) }),
};

// Every client gets the nameserver and no credentials: ali-ons adds its Aliyun signature only when
// both keys are set, and uses `httpclient` only to look nameservers up over HTTP (not with nameSrv).
const base = { ...JSON.parse(process.env.KARMAN_ALI_ONS_DEFAULTS || '{}'), nameSrv, httpclient: {}, logger };

const producers = new Map();
const consumers = new Map();

function describeMessage(msg, mq) {
  return {
    msgId: msg.msgId,
    topic: msg.topic,
    pulledFrom: mq ? mq.topic : undefined,
    queueId: msg.queueId,
    queueOffset: Number(msg.queueOffset),
    commitLogOffset: Number(msg.commitLogOffset),
    tags: msg.tags ?? null,
    keys: msg.keys ?? null,
    properties: msg.properties,
    body: Buffer.from(msg.body ?? []).toString('base64'),
    reconsumeTimes: msg.reconsumeTimes,
    originMessageId: msg.originMessageId ?? null,
    retryTopic: msg.retryTopic ?? null,
    bornTimestamp: Number(msg.bornTimestamp),
    storeTimestamp: Number(msg.storeTimestamp),
    storeHost: msg.storeHost,
    receivedAt: Date.now(),
  };
}

function ownedQueues(consumer, topic) {
  const ids = [];
  for (const { messageQueue } of consumer.processQueueTable.values()) {
    if (messageQueue.topic === topic) ids.push(Number(messageQueue.queueId));
  }
  return ids.sort((a, b) => a - b);
}

const handlers = {
  async producer({ name, options }) {
    const producer = new Producer({ ...base, ...options });
    producer.on('error', (error) => emit({ event: 'error', source: name, error: String(error.message) }));
    await producer.ready();
    producers.set(name, producer);
    return null;
  },

  async send({ producer: name, message }) {
    const producer = producers.get(name);
    if (!producer) throw new Error(`no producer "${name}"`);
    const msg = new Message(message.topic, message.tags ?? null, Buffer.from(message.body, 'base64'));
    if (message.keys) msg.keys = message.keys;
    if (message.shardingKey) msg.shardingKey = message.shardingKey;
    if (message.delayTimeLevel) msg.delayTimeLevel = message.delayTimeLevel;
    for (const [key, value] of Object.entries(message.properties ?? {})) msg.properties[key] = value;
    const result = await producer.send(msg);
    return {
      sendStatus: result.sendStatus,
      msgId: result.msgId,
      queueId: Number(result.messageQueue.queueId),
      queueOffset: Number(result.queueOffset),
      sentAt: Date.now(),
    };
  },

  // A push consumer. `subscriptions`: [{ topic, expression, retry }] where `retry` is "action"
  // (return ACTION_RETRY) or "throw" (throw from the handler) on the first delivery of each body,
  // or absent to accept every message.
  async consumer({ name, options, subscriptions }) {
    const consumer = new Consumer({ ...base, ...options });
    consumer.on('error', (error) => emit({ event: 'error', source: name, error: String(error.message) }));
    const refused = new Set();
    for (const { topic, expression, retry } of subscriptions) {
      consumer.on(`topic_${topic}_queue_changed`, () => emit({ event: 'queues', consumer: name, topic, queueIds: ownedQueues(consumer, topic) }));
      consumer.subscribe(topic, expression ?? '*', async (msg, mq) => {
        emit({ event: 'message', consumer: name, message: describeMessage(msg, mq) });
        const body = Buffer.from(msg.body ?? []).toString('base64');
        if (retry && !refused.has(body)) {
          refused.add(body);
          if (retry === 'throw') throw new Error(`conformance: refusing the first delivery of ${msg.msgId}`);
          return Consumer.ACTION_RETRY;
        }
        return undefined;
      });
    }
    await consumer.ready();
    consumers.set(name, consumer);
    return null;
  },

  async queues({ consumer: name, topic }) {
    const consumer = consumers.get(name);
    if (!consumer) throw new Error(`no consumer "${name}"`);
    return ownedQueues(consumer, topic);
  },

  async close({ name }) {
    const client = producers.get(name) ?? consumers.get(name);
    if (!client) throw new Error(`no client "${name}"`);
    producers.delete(name);
    consumers.delete(name);
    await client.close();
    return null;
  },

  async exit() {
    setImmediate(() => process.exit(0));
    return null;
  },
};

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    if (line.trim() === '') continue;
    let command;
    try {
      command = JSON.parse(line);
    } catch {
      emit({ event: 'log', level: 'error', text: `ali-ons-agent: not JSON: ${line}` });
      continue;
    }
    const handler = handlers[command.op];
    if (!handler) {
      emit({ reply: command.id, ok: false, error: `unknown op "${command.op}"; one of ${Object.keys(handlers).join(', ')}` });
      continue;
    }
    handler(command).then(
      (value) => emit({ reply: command.id, ok: true, value }),
      (error) => emit({ reply: command.id, ok: false, error: String(error && error.stack ? error.stack : error) }),
    );
  }
});
// The test going away (stdin closed) ends this process: the client would keep it alive forever.
process.stdin.on('end', () => process.exit(0));
emit({ event: 'ready', pid: process.pid });
