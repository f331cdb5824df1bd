import { describe, expect, it } from 'vitest';
import type { TopicRouteData } from './topic-route.js';
import { TopicRouteDataSchema, parseTopicRoute, publishQueues, queueKey, routeChanged, subscribeQueues } from './topic-route.js';

const route: TopicRouteData = TopicRouteDataSchema.parse({
  queueDatas: [
    { brokerName: 'broker-b', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 },
    { brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 3, perm: 6, topicSysFlag: 0 },
    { brokerName: 'broker-c', readQueueNums: 1, writeQueueNums: 1, perm: 4, topicSysFlag: 0 },
    { brokerName: 'broker-d', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 },
  ],
  brokerDatas: [
    { cluster: 'c', brokerName: 'broker-a', brokerAddrs: { '0': '10.0.0.1:10911', '1': '10.0.0.2:10911' } },
    { cluster: 'c', brokerName: 'broker-b', brokerAddrs: { '0': '10.0.0.3:10911' } },
    { cluster: 'c', brokerName: 'broker-c', brokerAddrs: { '0': '10.0.0.4:10911' } },
    { cluster: 'c', brokerName: 'broker-d', brokerAddrs: { '1': '10.0.0.5:10911' } },
  ],
});

describe('topic routes', () => {
  it('publishes to writable queues of brokers with a master, sorted by broker name', () => {
    expect(publishQueues('T', route).map((q) => `${q.brokerName}/${q.queueId}`)).toEqual(['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-b/0', 'broker-b/1']);
  });

  it('subscribes to every readable queue, slaves-only brokers included', () => {
    expect(subscribeQueues('T', route).map((q) => `${q.brokerName}/${q.queueId}`)).toEqual([
      'broker-a/0',
      'broker-a/1',
      'broker-a/2',
      'broker-a/3',
      'broker-b/0',
      'broker-b/1',
      'broker-c/0',
      'broker-d/0',
    ]);
  });

  it('lets ORDER_TOPIC_CONFIG decide the publish layout', () => {
    expect(publishQueues('T', { ...route, orderTopicConf: 'broker-b:2;broker-a:1' }).map((q) => `${q.brokerName}/${q.queueId}`)).toEqual(['broker-b/0', 'broker-b/1', 'broker-a/0']);
  });

  it("names queues as Java's MessageQueue.toString does", () => {
    expect(queueKey({ topic: 'T', brokerName: 'b', queueId: 3 })).toBe('MessageQueue [topic=T, brokerName=b, queueId=3]');
  });

  it('notices changes that matter and ignores order', () => {
    const reordered = { ...route, queueDatas: [...route.queueDatas].reverse() };
    expect(routeChanged(route, reordered)).toBe(false);
    expect(routeChanged(route, { ...route, queueDatas: route.queueDatas.slice(1) })).toBe(true);
    expect(routeChanged(undefined, route)).toBe(true);
  });

  it('leaves out a queue data claiming more than 1024 queues (or Infinity), so a bad route cannot make it allocate without limit', () => {
    const text = `{"queueDatas":[{"brokerName":"broker-a","readQueueNums":4,"writeQueueNums":4,"perm":6},{"brokerName":"broker-b","readQueueNums":2147483647,"writeQueueNums":2147483647,"perm":6},{"brokerName":"broker-c","readQueueNums":1e999,"writeQueueNums":1,"perm":6}],"brokerDatas":[{"cluster":"c","brokerName":"broker-a","brokerAddrs":{"0":"10.0.0.1:10911"}},{"cluster":"c","brokerName":"broker-b","brokerAddrs":{"0":"10.0.0.2:10911"}},{"cluster":"c","brokerName":"broker-c","brokerAddrs":{"0":"10.0.0.3:10911"}}]}`;
    const parsed = parseTopicRoute(Buffer.from(text));
    expect(parsed?.queueDatas.map((q) => q.brokerName)).toEqual(['broker-a']);
    expect(publishQueues('T', parsed!).map(queueKey)).toHaveLength(4);
    expect(subscribeQueues('T', parsed!)).toHaveLength(4);
  });

  it("reads a route as Apache RocketMQ's nameserver writes it: fastjson leaves brokerAddrs' Long keys unquoted", () => {
    const body = '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}';
    const parsed = parseTopicRoute(Buffer.from(body));
    expect(parsed?.brokerDatas[0]!.brokerAddrs).toEqual({ '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' });
    expect(publishQueues('T', parsed!).map((q) => `${q.brokerName}/${q.queueId}`)).toEqual(['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-a/3']);
    // Karman's nameserver quotes the keys, as standard JSON must.
    expect(parseTopicRoute(Buffer.from(body.replace('{0:', '{"0":').replace(',1:', ',"1":')))).toEqual(parsed);
    expect(parseTopicRoute(Buffer.from('{"brokerDatas":'))).toBeUndefined();
  });
});
