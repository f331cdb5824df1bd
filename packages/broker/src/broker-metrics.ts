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
 *   store_forced_clean_dropped_messages_total{group,topic}  (unconsumed, deleted by a forced clean)
 *   store_expired_dropped_messages_total{group,topic}       (unconsumed, deleted as expired)
 *   store_retention_deleted_messages_total{topic,cause}     (all deleted, cause forced|expired)
 *   broker_config_write_failures_total{file}
 *   store_quarantined_records_total, store_quarantined_records            (damaged records skipped, never served)
 *   store_consume_queue_units_repaired_total                              (units rebuilt from the commit log)
 *   replication_slave_lag_bytes{slave,broker_id}, replication_slave_lag_seconds{slave,broker_id}  (master)
 *   replication_master_lag_bytes{master}, replication_connected{master}                        (slave)
 *   remoting_connections, remoting_incomplete_frame_bytes, remoting_incomplete_frame_bytes_peak
 *   remoting_refused_connections_total{reason}       (max_connections, max_connections_per_address)
 *   remoting_closed_connections_total{reason}        (incomplete_frame_budget, frame_timeout)
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

/**
 * consumer_offset and consumer_lag series: one per committed offset of a group this broker knows
 * (a subscription group, or one with connected members) on a queue its topic has, at most
 * `metricsMaxConsumerSeries` of them. Offsets are committed by any client, so without these limits
 * random names and queue ids would each become a series, and every scrape would grow with them.
 */
function consumerSeries(context: BrokerContext): { offsets: Array<readonly [Labels, number]>; lags: Array<readonly [Labels, number]>; maxOffsets: Map<string, readonly [Labels, number]>; dropped: number } {
  const { store, topics, groups, clients } = context;
  const online = new Set(clients.consumerGroups());
  const limit = context.config.metricsMaxConsumerSeries;
  const entries = [...context.offsets.entries()]
    .filter(({ topic, group }) => topics.get(topic) !== undefined && (groups.get(group) !== undefined || online.has(group)))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  const offsets: Array<readonly [Labels, number]> = [];
  const lags: Array<readonly [Labels, number]> = [];
  const maxOffsets = new Map<string, readonly [Labels, number]>();
  let dropped = 0;
  for (const { topic, group, queues } of entries) {
    const config = topics.get(topic)!;
    const queueCount = Math.max(config.readQueueNums, config.writeQueueNums);
    for (const [queue, offset] of [...queues].sort(([a], [b]) => a - b)) {
      if (queue >= queueCount) continue;
      if (offsets.length >= limit) {
        dropped++;
        continue;
      }
      const max = store.getMaxOffsetInQueue(topic, queue);
      offsets.push([{ group, topic, queue }, offset]);
      lags.push([{ group, topic, queue }, Math.max(0, max - offset)]);
      maxOffsets.set(`${topic}@${queue}`, [{ topic, queue }, max]);
    }
  }
  return { offsets, lags, maxOffsets, dropped };
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

  const consumers = consumerSeries(context);
  out.family('consumer_offset', 'gauge', 'Committed offset (next message to consume) per group, topic and queue.', consumers.offsets);
  out.family('consumer_lag', 'gauge', 'Messages not yet consumed: queue max offset minus committed offset.', consumers.lags);
  out.family('queue_max_offset', 'gauge', 'Next offset to be written, for queues some group consumes.', [...consumers.maxOffsets.values()]);
  out.family(
    'broker_consumer_series_dropped',
    'gauge',
    'Committed offsets left out of consumer_offset and consumer_lag past metricsMaxConsumerSeries (raise it to see them; GET_CONSUME_STATS lists every one).',
    [[{}, consumers.dropped]],
  );

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
  const dropped = (cause: string): Array<readonly [Labels, number]> =>
    [...stats.droppedUnconsumed]
      .map(([key, n]) => [key.split('\u0000'), n] as const)
      .filter(([[c]]) => c === cause)
      .sort(([a], [b]) => (a.join() < b.join() ? -1 : 1))
      .map(([[, group, topic], n]) => [{ group: group!, topic: topic! }, n] as const);
  out.family('store_forced_clean_dropped_messages_total', 'counter', 'Messages a group had not consumed that a forced clean (disk over diskSpaceCleanForciblyRatio) deleted, since start.', dropped('forced'));
  out.family('store_expired_dropped_messages_total', 'counter', 'Messages a group had not consumed that retention deleted as older than fileReservedTime, since start.', dropped('expired'));
  out.family(
    'store_retention_deleted_messages_total',
    'counter',
    'Messages retention deleted per topic (consumed or not), cause forced or expired, since start.',
    [...stats.retentionDeleted].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => {
      const [cause, topic] = key.split('\u0000');
      return [{ topic: topic!, cause: cause! }, n] as const;
    }),
  );
  out.family(
    'broker_config_write_failures_total',
    'counter',
    'Failed writes of a config file (topics, subscription groups, consumer offsets), since start; the table stays served from memory and is written again.',
    [...stats.configWriteFailures].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, n]) => [{ file }, n] as const),
  );

  const remoting = context.server.stats;
  out.family('remoting_connections', 'gauge', 'Open connections of any protocol, handshakes included.', [[{}, remoting.connections]]);
  out.family('remoting_incomplete_frame_bytes', 'gauge', 'Bytes held in frames not yet complete, all connections together (at most maxBufferedIncompleteFrameBytes).', [[{}, remoting.bufferedIncompleteFrameBytes]]);
  out.family('remoting_incomplete_frame_bytes_peak', 'gauge', 'Highest remoting_incomplete_frame_bytes since start.', [[{}, remoting.peakBufferedIncompleteFrameBytes]]);
  out.family('remoting_refused_connections_total', 'counter', 'Connections closed on arrival since start, by the limit that refused them.', [
    [{ reason: 'max_connections' }, remoting.refusedOverMaxConnections],
    [{ reason: 'max_connections_per_address' }, remoting.refusedOverMaxConnectionsPerAddress],
  ]);
  out.family('remoting_closed_connections_total', 'counter', 'Connections closed to protect the server since start: over the incomplete-frame budget, or a frame not completed in time.', [
    [{ reason: 'incomplete_frame_budget' }, remoting.incompleteFrameConnectionsClosed],
    [{ reason: 'frame_timeout' }, remoting.frameTimeoutConnectionsClosed],
  ]);
  out.family('remoting_busy_requests_total', 'counter', 'Requests answered SYSTEM_BUSY since start because their connection had maxInFlightRequestsPerConnection being handled.', [[{}, remoting.busyRequests]]);
  return out.text();
}
