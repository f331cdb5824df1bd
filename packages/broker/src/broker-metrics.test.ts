import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import { startTestBroker } from '../test/broker-fixture.js';
import { pullFields } from '../test/pull-fixture.js';
import { createTopic, send } from '../test/send-helpers.js';
import { renderMetrics } from './broker-metrics.js';

/** Parse exposition text into "name{labels}" → value, checking every line is well formed. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (-?[\d.e+]+|NaN|[+-]Inf)$/.exec(line);
    expect(match, line).not.toBeNull();
    out.set(match![1]!, Number(match![2]));
  }
  return out;
}

describe('renderMetrics', () => {
  it('exposes traffic per topic, lag per group/topic/queue, store offsets, put latency and held pulls', async () => {
    await using b = await startTestBroker({ brokerName: 'broker-m' });
    const { context } = b.broker;
    await context.topics.upsert({ topicName: 'MetricsTopic', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    for (let i = 0; i < 4; i++) await context.store.put({ topic: 'MetricsTopic', queueId: 1, body: Buffer.from('0123456789') });
    context.stats.recordPut('MetricsTopic', 4, 40, 3);
    context.stats.recordPut('MetricsTopic', 1, 10, 1);
    context.stats.recordGet('MetricsTopic', 2, 20);
    await context.groups.findOrCreate('MetricsGroup');
    context.offsets.commit('MetricsGroup', 'MetricsTopic', 1, 1);

    const text = renderMetrics(context);
    expect(text).toMatch(/^# TYPE karman_broker_messages_in_total counter$/m);
    expect(text).toMatch(/^# TYPE karman_consumer_lag gauge$/m);
    const m = samples(text);
    expect(m.get('karman_broker_messages_in_total{topic="MetricsTopic"}')).toBe(5);
    expect(m.get('karman_broker_bytes_in_total{topic="MetricsTopic"}')).toBe(50);
    expect(m.get('karman_broker_messages_out_total{topic="MetricsTopic"}')).toBe(2);
    expect(m.get('karman_broker_bytes_out_total{topic="MetricsTopic"}')).toBe(20);
    expect(m.get('karman_consumer_lag{group="MetricsGroup",topic="MetricsTopic",queue="1"}')).toBe(3);
    expect(m.get('karman_consumer_offset{group="MetricsGroup",topic="MetricsTopic",queue="1"}')).toBe(1);
    expect(m.get('karman_queue_max_offset{topic="MetricsTopic",queue="1"}')).toBe(4);
    expect(m.get('karman_broker_put_requests_total')).toBe(2);
    expect(m.get('karman_broker_put_latency_avg_ms')).toBe(2);
    expect(m.get('karman_broker_put_latency_max_ms')).toBe(3);
    expect(m.get('karman_broker_held_pull_requests')).toBe(0);
    expect(m.get('karman_broker_send_requests_total')).toBe(0);
    expect(m.get('karman_broker_pull_requests_total')).toBe(0);
    expect(m.get('karman_store_commitlog_min_offset_bytes')).toBe(0);
    expect(m.get('karman_store_commitlog_max_offset_bytes')).toBe(context.store.maxPhyOffset);
    expect(m.get('karman_store_size_bytes')).toBe(context.store.maxPhyOffset);
    expect(m.get('karman_store_disk_full')).toBe(0);
    expect(m.get('karman_remoting_incomplete_frame_bytes')).toBe(0);
    expect(m.get('karman_remoting_refused_connections_total{reason="max_connections_per_address"}')).toBe(0);
    expect(m.get('karman_remoting_closed_connections_total{reason="frame_timeout"}')).toBe(0);
    expect([...m.keys()].some((k) => k.startsWith('karman_broker_info{') && k.includes('broker="broker-m"'))).toBe(true);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('lists consumer series only for known groups on real queues, at most metricsMaxConsumerSeries, and counts the rest', async () => {
    await using b = await startTestBroker({ metricsMaxConsumerSeries: 3 });
    const { context } = b.broker;
    await context.topics.upsert({ topicName: 'SeriesTopic', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    await context.groups.findOrCreate('KnownGroup');
    for (let q = 0; q < 4; q++) context.offsets.commit('KnownGroup', 'SeriesTopic', q, 0);
    // What any client can commit: random groups, queue ids past the topic's, topics that do not exist.
    for (let i = 0; i < 1_000; i++) context.offsets.commit(`random_${i}`, 'SELF_TEST_TOPIC', i, i);
    context.offsets.commit('KnownGroup', 'SeriesTopic', 5_000, 1);
    context.offsets.commit('KnownGroup', 'NoSuchTopic', 0, 1);
    const m = samples(renderMetrics(context));
    expect([...m.keys()].filter((k) => k.startsWith('karman_consumer_offset{'))).toEqual([0, 1, 2].map((q) => `karman_consumer_offset{group="KnownGroup",topic="SeriesTopic",queue="${q}"}`));
    expect(m.get('karman_broker_consumer_series_dropped')).toBe(1);
  });

  it('counts what real sends and pulls did: messages and bytes in and out, requests, held pulls', async () => {
    await using b = await startTestBroker();
    const { context } = b.broker;
    await createTopic(b, 'RealTraffic', 1);
    for (let i = 0; i < 3; i++) expect((await send(b, 'RealTraffic', Buffer.from(`body-${i}`))).code).toBe(ResponseCode.SUCCESS.code);
    const refused = await send(b, 'NoSuchTopicHere', Buffer.from('x'));
    expect(refused.code).not.toBe(ResponseCode.SUCCESS.code);
    await context.groups.findOrCreate('RealGroup');
    const pulled = await b.request(RequestCode.PULL_MESSAGE.code, pullFields('RealGroup', 'RealTraffic', 0, 0));
    expect(pulled.code).toBe(ResponseCode.SUCCESS.code);
    const empty = await b.request(RequestCode.PULL_MESSAGE.code, pullFields('RealGroup', 'RealTraffic', 0, 3));
    expect(empty.code).not.toBe(ResponseCode.SUCCESS.code);
    const m = samples(renderMetrics(context));
    expect(m.get('karman_broker_messages_in_total{topic="RealTraffic"}')).toBe(3);
    expect(m.get('karman_broker_messages_out_total{topic="RealTraffic"}')).toBe(3);
    expect(m.get('karman_broker_bytes_out_total{topic="RealTraffic"}')).toBe(Buffer.from(pulled.body ?? []).length);
    // Refused and empty requests count as received too: a client looping on them shows.
    expect(m.get('karman_broker_send_requests_total')).toBe(4);
    expect(m.get('karman_broker_pull_requests_total')).toBe(2);
    expect(m.get('karman_broker_put_requests_total')).toBe(3);
  });
});
