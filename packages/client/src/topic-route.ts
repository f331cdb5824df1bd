/**
 * Topic routes as the nameserver answers them (RocketMQ `TopicRouteData`), and what clients
 * derive from them: the publish list (writable queues of broker names that have a master,
 * sorted by broker name, or the `ORDER_TOPIC_CONFIG` layout when one is set) and the subscribe set
 * (readable queues).
 */
import { z } from 'zod';
import { MAX_TOPIC_QUEUE_NUMS, isReadable, isWriteable, parseRemotingJson } from '@karman/protocol';

const QueueDataSchema = z.looseObject({
  brokerName: z.string(),
  readQueueNums: z.number().int().min(0).max(MAX_TOPIC_QUEUE_NUMS),
  writeQueueNums: z.number().int().min(0).max(MAX_TOPIC_QUEUE_NUMS),
  perm: z.number().int(),
  topicSysFlag: z.number().int().default(0),
});
export type QueueData = z.infer<typeof QueueDataSchema>;

/**
 * Broker id → address. Apache RocketMQ's nameserver writes this `HashMap<Long, String>` with
 * fastjson, which leaves the Long keys unquoted (`{0:"10.0.0.1:10911"}`); `parseRemotingJson`
 * reads such a map as `[{ key: 0, value: ... }]`, and this turns it back into `{ "0": ... }`.
 */
const BrokerAddrsSchema = z.union([
  z.record(z.string(), z.string()),
  z.array(z.object({ key: z.union([z.number(), z.string()]), value: z.string() })).transform((entries) => Object.fromEntries(entries.map((e) => [String(e.key), e.value]))),
]);

export const BrokerDataSchema = z.looseObject({
  cluster: z.string(),
  brokerName: z.string(),
  brokerAddrs: BrokerAddrsSchema,
});
export type BrokerData = z.infer<typeof BrokerDataSchema>;

export const TopicRouteDataSchema = z.looseObject({
  orderTopicConf: z.string().nullish(),
  // An entry that is not a queue data, or claims more than MAX_TOPIC_QUEUE_NUMS queues (a client
  // allocates one entry per queue), is left out: that broker's queues are not used, the rest are.
  queueDatas: z.array(z.unknown()).transform((entries) => entries.flatMap((entry) => {
    const parsed = QueueDataSchema.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  })),
  brokerDatas: z.array(BrokerDataSchema),
  filterServerTable: z.record(z.string(), z.array(z.string())).default({}),
});
/** A topic's route as RocketMQ's nameserver serializes it. */
export type TopicRouteData = z.infer<typeof TopicRouteDataSchema>;

/**
 * A GET_ROUTEINFO_BY_TOPIC body (Karman's standard JSON or Apache RocketMQ's fastjson text) as a
 * route, or undefined when it is not one.
 */
export function parseTopicRoute(body: Uint8Array | undefined): TopicRouteData | undefined {
  let value: unknown;
  try {
    value = parseRemotingJson(Buffer.from(body ?? []).toString('utf8') || 'null');
  } catch {
    return undefined;
  }
  const parsed = TopicRouteDataSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** One queue of a topic on one broker group. */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

/** Stable text key of a queue, RocketMQ's `MessageQueue.toString()`. */
export function queueKey(queue: MessageQueue): string {
  return `MessageQueue [topic=${queue.topic}, brokerName=${queue.brokerName}, queueId=${queue.queueId}]`;
}

/** Sort queues by (topic, brokerName, queueId), the order every client must agree on. */
export function sortQueues(queues: MessageQueue[]): MessageQueue[] {
  return [...queues].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
}

/** Master address (broker id 0) of a broker name, if it has one. */
export function masterAddress(route: TopicRouteData, brokerName: string): string | undefined {
  return route.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs['0'];
}

/**
 * The queues a producer may send to (`topicRouteData2TopicPublishInfo`). With an order-topic
 * config ("brokerA:4;brokerB:4") that layout wins; otherwise every writable queue of a broker name
 * with a master, sorted by broker name.
 */
export function publishQueues(topic: string, route: TopicRouteData): MessageQueue[] {
  const queues: MessageQueue[] = [];
  if (route.orderTopicConf) {
    for (const part of route.orderTopicConf.split(';')) {
      const [brokerName, count] = part.split(':');
      if (!brokerName || !count) continue;
      for (let i = 0; i < Number(count); i++) queues.push({ topic, brokerName, queueId: i });
    }
    return queues;
  }
  const datas = [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  for (const qd of datas) {
    if (!isWriteable(qd.perm) || !masterAddress(route, qd.brokerName)) continue;
    for (let i = 0; i < qd.writeQueueNums; i++) queues.push({ topic, brokerName: qd.brokerName, queueId: i });
  }
  return queues;
}

/** The queues a consumer may read (`topicRouteData2TopicSubscribeInfo`): every readable queue. */
export function subscribeQueues(topic: string, route: TopicRouteData): MessageQueue[] {
  const queues: MessageQueue[] = [];
  for (const qd of route.queueDatas) {
    if (!isReadable(qd.perm)) continue;
    for (let i = 0; i < qd.readQueueNums; i++) queues.push({ topic, brokerName: qd.brokerName, queueId: i });
  }
  return sortQueues(queues);
}

/** Whether two routes differ in anything a client acts on. */
export function routeChanged(a: TopicRouteData | undefined, b: TopicRouteData): boolean {
  if (!a) return true;
  const norm = (r: TopicRouteData) =>
    JSON.stringify({
      o: r.orderTopicConf ?? null,
      q: [...r.queueDatas].sort((x, y) => x.brokerName.localeCompare(y.brokerName)).map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm, q.topicSysFlag]),
      b: [...r.brokerDatas].sort((x, y) => x.brokerName.localeCompare(y.brokerName)).map((d) => [d.brokerName, d.cluster, Object.entries(d.brokerAddrs).sort()]),
    });
  return norm(a) !== norm(b);
}
