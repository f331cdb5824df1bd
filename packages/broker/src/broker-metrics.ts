/**
 * `GET /metrics` for Prometheus: the broker's counters in the text exposition format (version
 * 0.0.4). Rendered on request from what the broker already keeps (BrokerStats, the store's offsets,
 * the offset table, the hold service), so scraping costs nothing between scrapes and nothing on the
 * send or pull path.
 *
 * Series (all prefixed `karman_`):
 *   broker_info{cluster,broker,broker_id,role} 1
 *   broker_uptime_seconds
 *   broker_messages_in_total{topic}, broker_bytes_in_total{topic}        (stored by sends)
 *   broker_messages_out_total{topic}, broker_bytes_out_total{topic}      (returned by pulls)
 *   broker_put_requests_total, broker_put_latency_avg_ms, broker_put_latency_max_ms
 *   broker_send_requests_total, broker_pull_requests_total              (received, whatever the answer)
 *   broker_held_pull_requests
 *   broker_topics, broker_online_consumer_groups
 *   consumer_offset{group,topic,queue}, consumer_lag{group,topic,queue}  (max offset − committed)
 *   queue_max_offset{topic,queue}                                        (queues with committed offsets)
 *   store_commitlog_min_offset_bytes, store_commitlog_max_offset_bytes,
 *   store_commitlog_flushed_offset_bytes, store_size_bytes, store_disk_full
 *   store_quarantined_records_total, store_quarantined_records            (damaged records skipped, never served)
 *   store_consume_queue_units_repaired_total                              (units rebuilt from the commit log)
 *   replication_slave_lag_bytes{slave,broker_id}, replication_slave_lag_seconds{slave,broker_id}  (master)
 *   replication_master_lag_bytes{master}, replication_connected{master}                        (slave)
 */
import type { BrokerContext } from './broker-context.js';

/** Content type Prometheus expects for this format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string | number>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Accumulates metric families: one HELP/TYPE header each, then its samples. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string, samples: ReadonlyArray<readonly [Labels, number]>): void {
    this.lines.push(`# HELP karman_${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE karman_${name} ${type}`);
    for (const [labels, value] of samples) {
      const entries = Object.entries(labels);
      const text = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}`;
      this.lines.push(`karman_${name}${text} ${formatNumber(value)}`);
    }
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** The broker's metrics as Prometheus text. Never throws for a running broker; call it for every scrape. */
export function renderMetrics(context: BrokerContext): string {
  const { config, stats, store } = context;
  const out = new Exposition();
  out.family('broker_info', 'gauge', 'Identity of this broker; the value is always 1.', [
    [{ cluster: config.brokerClusterName, broker: config.brokerName, broker_id: config.brokerId, role: config.brokerRole, address: context.brokerAddr }, 1],
  ]);
  out.family('broker_uptime_seconds', 'gauge', 'Seconds since the broker started.', [[{}, Math.max(0, (Date.now() - stats.startTimestamp) / 1000)]]);

  const topics = [...stats.perTopic()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  out.family('broker_messages_in_total', 'counter', 'Messages stored by sends, per topic, since start.', topics.map(([topic, c]) => [{ topic }, c.messagesIn] as const));
  out.family('broker_bytes_in_total', 'counter', 'Bytes stored by sends, per topic, since start.', topics.map(([topic, c]) => [{ topic }, c.bytesIn] as const));
  out.family('broker_messages_out_total', 'counter', 'Messages returned by pulls, per topic, since start.', topics.map(([topic, c]) => [{ topic }, c.messagesOut] as const));
  out.family('broker_bytes_out_total', 'counter', 'Bytes returned by pulls, per topic, since start.', topics.map(([topic, c]) => [{ topic }, c.bytesOut] as const));

  out.family('broker_put_requests_total', 'counter', 'Store puts (a batch counts once) since start.', [[{}, stats.putCount]]);
  out.family('broker_put_latency_avg_ms', 'gauge', 'Mean time of a store put, including the disk flush under SYNC_FLUSH.', [
    [{}, stats.putCount > 0 ? stats.putLatencyTotalMs / stats.putCount : 0],
  ]);
  out.family('broker_put_latency_max_ms', 'gauge', 'Longest store put since start.', [[{}, stats.putLatencyMaxMs]]);
  out.family('broker_send_requests_total', 'counter', 'Send requests received (single and batch), refused ones included, since start.', [[{}, stats.sendRequests]]);
  out.family('broker_pull_requests_total', 'counter', 'Pull requests received, whatever they found, since start; a held pull counts once.', [[{}, stats.pullRequests]]);
  out.family('broker_held_pull_requests', 'gauge', 'Pull requests parked by long polling.', [[{}, context.holds.size]]);
  out.family('broker_topics', 'gauge', 'Topics configured on this broker, system topics included.', [[{}, context.topics.all().length]]);
  out.family('broker_online_consumer_groups', 'gauge', 'Consumer groups with at least one connected member.', [[{}, context.clients.consumerGroups().length]]);

  // Lag per group, topic and queue: every committed offset of a topic this broker still has.
  const offsets: Array<readonly [Labels, number]> = [];
  const lags: Array<readonly [Labels, number]> = [];
  const maxOffsets = new Map<string, readonly [Labels, number]>();
  for (const topicConfig of [...context.topics.all()].sort((a, b) => (a.topicName < b.topicName ? -1 : a.topicName > b.topicName ? 1 : 0))) {
    const topic = topicConfig.topicName;
    for (const group of context.offsets.groupsOf(topic).sort()) {
      for (const [queue, offset] of [...context.offsets.queryAll(group, topic)].sort(([a], [b]) => a - b)) {
        const max = store.getMaxOffsetInQueue(topic, queue);
        offsets.push([{ group, topic, queue }, offset]);
        lags.push([{ group, topic, queue }, Math.max(0, max - offset)]);
        maxOffsets.set(`${topic}@${queue}`, [{ topic, queue }, max]);
      }
    }
  }
  out.family('consumer_offset', 'gauge', 'Committed offset (next message to consume) per group, topic and queue.', offsets);
  out.family('consumer_lag', 'gauge', 'Messages not yet consumed: queue max offset minus committed offset.', lags);
  out.family('queue_max_offset', 'gauge', 'Next offset to be written, for queues some group consumes.', [...maxOffsets.values()]);

  out.family('store_commitlog_min_offset_bytes', 'gauge', 'Lowest commit-log offset still on disk.', [[{}, store.minPhyOffset]]);
  out.family('store_commitlog_max_offset_bytes', 'gauge', 'End of the written commit log.', [[{}, store.maxPhyOffset]]);
  out.family('store_commitlog_flushed_offset_bytes', 'gauge', 'End of the commit log known to be on disk (fdatasync).', [[{}, store.flushedPhyOffset]]);
  out.family('store_size_bytes', 'gauge', 'Commit-log bytes held (max − min offset).', [[{}, store.maxPhyOffset - store.minPhyOffset]]);
  const slaves = context.replication?.slaves() ?? [];
  out.family('replication_slave_lag_bytes', 'gauge', 'Master: commit-log bytes each connected slave has not confirmed.', slaves.map((s) => [{ slave: s.slaveAddr, broker_id: s.brokerId }, s.lagBytes] as const));
  out.family('replication_slave_lag_seconds', 'gauge', 'Master: age of the oldest byte each connected slave has not confirmed.', slaves.map((s) => [{ slave: s.slaveAddr, broker_id: s.brokerId }, s.lagSeconds] as const));
  const master = context.replication?.master?.();
  if (master) {
    out.family('replication_master_lag_bytes', 'gauge', 'Slave: master commit-log end (as last seen) minus this store\'s end.', [[{ master: master.masterAddr ?? '' }, master.lagBytes]]);
    out.family('replication_connected', 'gauge', 'Slave: 1 while the last exchange with the master succeeded.', [[{ master: master.masterAddr ?? '' }, master.connected ? 1 : 0]]);
  }
  const integrity = store.integrity;
  out.family('store_quarantined_records_total', 'counter', 'Damaged commit-log records (or stretches) the store quarantined: skipped and never served, the records after them kept. Counts every one found since the store was created.', [
    [{}, integrity.quarantinedTotal],
  ]);
  out.family('store_quarantined_records', 'gauge', 'Entries in the quarantine list (karman-admin queryQuarantinedMsg), less those retention has deleted.', [[{}, integrity.quarantined]]);
  out.family('store_consume_queue_units_repaired_total', 'counter', 'Consume-queue units found pointing at the wrong bytes and rebuilt from the commit log (by recovery at this start, by reads and by scrubs).', [
    [{}, integrity.unitsRepaired + integrity.unitsRepairedAtRecovery],
  ]);
  out.family('store_disk_full', 'gauge', '1 when appends are refused because the disk is over diskSpaceWarningLevelRatio.', [[{}, store.isDiskFull ? 1 : 0]]);
  return out.text();
}
