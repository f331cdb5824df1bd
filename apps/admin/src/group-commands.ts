/**
 * Consumer-group commands ("Consumer progress", "Offset
 * reset"): updateSubGroup, deleteSubGroup, consumerProgress, consumerConnection, resetOffsetByTime.
 * A group's offsets live on each broker that holds its queues, so progress and resets visit every
 * master.
 */
import { InvalidArgumentError, KarmanError, RequestCode, ResponseCode, groupNameProblem, isReadable } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { jsonOf, textOf } from './admin-client.js';
import { boolFlag, intFlag, parseTime, stringFlag } from './command.js';
import type { Command, CommandContext } from './command.js';
import { offsetTable } from './remoting-json.js';
import { formatTime, table } from './table.js';

function groupFlag(context: CommandContext): string {
  const group = stringFlag(context, 'groupName', true);
  const problem = groupNameProblem(group);
  if (problem) throw new InvalidArgumentError(`--groupName: ${problem}`);
  return group;
}

const updateSubGroup: Command = {
  name: 'updateSubGroup',
  summary: 'Create or update a subscription group on one broker or on every master of a cluster.',
  example: 'karman-admin updateSubGroup -n 127.0.0.1:9876 -c DefaultCluster -g OrderService -r 3',
  flags: [
    { long: 'brokerAddr', short: 'b', type: 'string', description: 'Broker to create the group on (host:port).' },
    { long: 'clusterName', short: 'c', type: 'string', description: 'Cluster whose every master gets the group.' },
    { long: 'groupName', short: 'g', type: 'string', description: 'Consumer group name.', required: true },
    { long: 'consumeEnable', short: 's', type: 'string', description: 'Whether the group may consume.', defaultText: 'true' },
    { long: 'consumeFromMinEnable', short: 'm', type: 'string', description: 'Whether a new group starts from the queue minimum.', defaultText: 'true' },
    { long: 'consumeBroadcastEnable', short: 'd', type: 'string', description: 'Whether broadcasting consumers are allowed.', defaultText: 'true' },
    { long: 'retryQueueNums', short: 'q', type: 'string', description: 'Queues of the retry topic.', defaultText: '1' },
    { long: 'retryMaxTimes', short: 'r', type: 'string', description: 'Redeliveries before the dead-letter queue.', defaultText: '16' },
    { long: 'brokerId', short: 'i', type: 'string', description: 'Broker id to consume from.', defaultText: '0' },
    { long: 'whichBrokerWhenConsumeSlowly', short: 'w', type: 'string', description: 'Broker id to consume from when consuming slowly.', defaultText: '1' },
    { long: 'notifyConsumerIdsChanged', short: 'a', type: 'string', description: 'Whether members are told when the group changes.', defaultText: 'true' },
  ],
  async run(context) {
    const config = {
      groupName: groupFlag(context),
      consumeEnable: boolFlag(context, 'consumeEnable', true),
      consumeFromMinEnable: boolFlag(context, 'consumeFromMinEnable', true),
      consumeBroadcastEnable: boolFlag(context, 'consumeBroadcastEnable', true),
      retryQueueNums: intFlag(context, 'retryQueueNums', 1, 1),
      retryMaxTimes: intFlag(context, 'retryMaxTimes', 16, 0),
      brokerId: intFlag(context, 'brokerId', 0, 0),
      whichBrokerWhenConsumeSlowly: intFlag(context, 'whichBrokerWhenConsumeSlowly', 1, 0),
      notifyConsumerIdsChangedEnable: boolFlag(context, 'notifyConsumerIdsChanged', true),
    };
    const targets = await context.admin.targets({ brokerAddr: stringFlag(context, 'brokerAddr'), cluster: stringFlag(context, 'clusterName') });
    const body = Buffer.from(JSON.stringify(config), 'utf8');
    for (const address of targets) await context.admin.call(address, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, body);
    return {
      text: `${targets.map((a) => `create subscription group to ${a} success.\n`).join('')}SubscriptionGroupConfig ${JSON.stringify(config)}\n`,
      value: { subscriptionGroupConfig: config, brokers: targets },
    };
  },
};

const deleteSubGroup: Command = {
  name: 'deleteSubGroup',
  summary: 'Delete a subscription group (and its offsets) from one broker or every master of a cluster.',
  example: 'karman-admin deleteSubGroup -n 127.0.0.1:9876 -c DefaultCluster -g OrderService',
  flags: [
    { long: 'brokerAddr', short: 'b', type: 'string', description: 'Broker to delete the group from (host:port).' },
    { long: 'clusterName', short: 'c', type: 'string', description: 'Cluster whose every master drops the group.' },
    { long: 'groupName', short: 'g', type: 'string', description: 'Consumer group name.', required: true },
    { long: 'removeOffset', short: 'r', type: 'string', description: "Whether the group's committed offsets go too.", defaultText: 'true' },
  ],
  async run(context) {
    const group = groupFlag(context);
    const removeOffset = boolFlag(context, 'removeOffset', true);
    const targets = await context.admin.targets({ brokerAddr: stringFlag(context, 'brokerAddr'), cluster: stringFlag(context, 'clusterName') });
    for (const address of targets) await context.admin.call(address, RequestCode.DELETE_SUBSCRIPTIONGROUP.code, { groupName: group, removeOffset });
    return { text: targets.map((a) => `delete subscription group [${group}] from broker [${a}] success.\n`).join(''), value: { group, brokers: targets, removeOffset } };
  },
};

interface QueueProgress {
  brokerOffset: number;
  consumerOffset: number;
  lastTimestamp: number;
}

const consumerProgress: Command = {
  name: 'consumerProgress',
  summary: "A group's progress per queue: broker offset, consumer offset and the difference, with totals.",
  example: 'karman-admin consumerProgress -n 127.0.0.1:9876 -g OrderService',
  flags: [
    { long: 'groupName', short: 'g', type: 'string', description: 'Consumer group name.', required: true },
    { long: 'topic', short: 't', type: 'string', description: 'Only this topic.' },
  ],
  async run(context) {
    const group = groupFlag(context);
    const topic = stringFlag(context, 'topic');
    const masters = (await context.admin.members()).filter((m) => m.brokerId === 0);
    const queues: Array<{ topic: string; brokerName: string; queueId: number; diff: number } & QueueProgress> = [];
    let consumeTps = 0;
    for (const master of masters) {
      const response = await context.admin.call(master.address, RequestCode.GET_CONSUME_STATS.code, { consumerGroup: group, topic });
      const text = textOf(response);
      const tps = /"consumeTps":([0-9.eE+-]+)/.exec(text);
      if (tps) consumeTps += Number(tps[1]);
      for (const { key, value } of offsetTable<QueueProgress>(text)) {
        queues.push({ topic: key.topic, brokerName: key.brokerName, queueId: key.queueId, ...value, diff: value.brokerOffset - value.consumerOffset });
      }
    }
    if (queues.length === 0) {
      throw new KarmanError(
        'NO_CONSUME_STATS',
        `no broker has consume progress for group "${group}"${topic ? ` on topic "${topic}"` : ''}: it has committed no offset yet; check the group name, or start its consumers`,
      );
    }
    queues.sort((a, b) => a.topic.localeCompare(b.topic) || a.brokerName.localeCompare(b.brokerName) || a.queueId - b.queueId);
    const diffTotal = queues.reduce((sum, q) => sum + q.diff, 0);
    const text =
      table(
        ['Topic', 'Broker Name', 'QID', 'Broker Offset', 'Consumer Offset', 'Diff', 'LastTime'],
        queues.map((q) => [q.topic, q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset, q.diff, formatTime(q.lastTimestamp)]),
      ) + `\nConsume TPS: ${consumeTps.toFixed(2)}\nDiff Total: ${diffTotal}\n`;
    return { text, value: { group, queues, consumeTps, diffTotal } };
  },
};

interface ConsumerConnectionBody {
  connectionSet: Array<{ clientId: string; clientAddr: string; language: string; version: number }>;
  consumeType?: string;
  messageModel?: string;
  consumeFromWhere?: string;
  subscriptionTable?: Record<string, { subString?: string; expressionType?: string }>;
}

const consumerConnection: Command = {
  name: 'consumerConnection',
  summary: "The consumers of a group connected to the brokers, with the group's subscriptions.",
  example: 'karman-admin consumerConnection -n 127.0.0.1:9876 -g OrderService',
  flags: [{ long: 'groupName', short: 'g', type: 'string', description: 'Consumer group name.', required: true }],
  async run(context) {
    const group = groupFlag(context);
    const masters = (await context.admin.members()).filter((m) => m.brokerId === 0);
    let merged: ConsumerConnectionBody | undefined;
    const seen = new Set<string>();
    for (const master of masters) {
      const response = await context.admin.request(master.address, RequestCode.GET_CONSUMER_CONNECTION_LIST.code, { consumerGroup: group });
      if (response.code !== ResponseCode.SUCCESS.code) continue;
      const body = jsonOf(response) as ConsumerConnectionBody;
      merged ??= { ...body, connectionSet: [] };
      for (const c of body.connectionSet) {
        // A client heartbeats every broker, so each broker lists it: show it once.
        if (seen.has(c.clientId)) continue;
        seen.add(c.clientId);
        merged.connectionSet.push(c);
      }
    }
    if (!merged) throw new KarmanError('CONSUMER_NOT_ONLINE', `the consumer group "${group}" has no consumer connected to any broker; start a consumer of the group, or check the name`);
    const subscriptions = Object.entries(merged.subscriptionTable ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const text = [
      table(['ClientId', 'ClientAddr', 'Language', 'Version'], merged.connectionSet.map((c) => [c.clientId, c.clientAddr, c.language, c.version])),
      '\nBelow is subscription:\n',
      table(['Topic', 'SubExpression'], subscriptions.map(([t, s]) => [t, s.subString ?? '*'])),
      `\nConsumeType: ${merged.consumeType ?? '-'}\nMessageModel: ${merged.messageModel ?? '-'}\nConsumeFromWhere: ${merged.consumeFromWhere ?? '-'}\n`,
    ].join('');
    return { text, value: merged };
  },
};

function offsetHeader(response: RemotingCommand, address: string, what: string): number {
  const value = Number(response.extFields.offset);
  if (!Number.isSafeInteger(value)) throw new KarmanError('BAD_RESPONSE', `${address} answered ${what} without an offset`);
  return value;
}

const resetOffsetByTime: Command = {
  name: 'resetOffsetByTime',
  summary: "Move a group's offsets on a topic to the first message stored at or after a time.",
  example: 'karman-admin resetOffsetByTime -n 127.0.0.1:9876 -g OrderService -t OrderEvents -s 2026-01-31#09:00:00:000',
  flags: [
    { long: 'group', short: 'g', type: 'string', description: 'Consumer group name.', required: true },
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'timestamp', short: 's', type: 'string', description: 'now, epoch ms, or yyyy-MM-dd#HH:mm:ss:SSS (local time).', required: true },
    { long: 'force', short: 'f', type: 'string', description: 'false: never move an offset forward, only back.', defaultText: 'true' },
  ],
  async run(context) {
    const group = stringFlag(context, 'group', true);
    const problem = groupNameProblem(group);
    if (problem) throw new InvalidArgumentError(`--group: ${problem}`);
    const topic = stringFlag(context, 'topic', true);
    const timestamp = parseTime(stringFlag(context, 'timestamp', true), context.now(), 'timestamp');
    const force = boolFlag(context, 'force', true);
    const route = await context.admin.route(topic);
    const rows: Array<{ brokerName: string; queueId: number; offset: number; previousOffset: number | null }> = [];
    let online = false;
    for (const queueData of [...route.queueDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
      if (!isReadable(queueData.perm)) continue;
      const address = context.admin.masterOf(route, queueData.brokerName);
      const connections = await context.admin.request(address, RequestCode.GET_CONSUMER_CONNECTION_LIST.code, { consumerGroup: group });
      online ||= connections.code === ResponseCode.SUCCESS.code;
      for (let queueId = 0; queueId < queueData.readQueueNums; queueId++) {
        const found = await context.admin.call(address, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { topic, queueId, timestamp });
        let offset = offsetHeader(found, address, 'SEARCH_OFFSET_BY_TIMESTAMP');
        const current = await context.admin.request(address, RequestCode.QUERY_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId, setZeroIfNotFound: false });
        const previousOffset = current.code === ResponseCode.SUCCESS.code ? offsetHeader(current, address, 'QUERY_CONSUMER_OFFSET') : null;
        // RocketMQ's -f false: a reset may rewind a group but never skip messages it has not consumed.
        if (!force && previousOffset !== null && previousOffset < offset) offset = previousOffset;
        await context.admin.call(address, RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId, commitOffset: offset });
        rows.push({ brokerName: queueData.brokerName, queueId, offset, previousOffset });
      }
    }
    if (online) {
      // Running consumers keep offsets of their own and would commit them over the reset: each
      // master pushes the new offsets to its online members (INVOKE_BROKER_TO_RESET_OFFSET, which
      // sends RESET_CONSUMER_CLIENT_OFFSET), computed from the same time against the offsets just
      // stored, so the same ones. A master without members answers CONSUMER_NOT_ONLINE: nothing to push.
      for (const brokerName of [...new Set(rows.map((r) => r.brokerName))]) {
        const address = context.admin.masterOf(route, brokerName);
        const pushed = await context.admin.request(address, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code, { topic, group, timestamp, isForce: force });
        if (pushed.code !== ResponseCode.SUCCESS.code && pushed.code !== ResponseCode.CONSUMER_NOT_ONLINE.code) {
          context.warn(`${brokerName} (${address}) stored the new offsets but could not push them to the running consumers (${pushed.remark ?? `code ${pushed.code}`}); restart the group's consumers so they read them`);
        }
      }
    }
    return {
      text: table(['Broker Name', 'QID', 'Old Offset', 'New Offset'], rows.map((r) => [r.brokerName, r.queueId, r.previousOffset ?? '-', r.offset])),
      value: { group, topic, timestamp, queues: rows },
    };
  },
};

export const groupCommands: readonly Command[] = [updateSubGroup, deleteSubGroup, consumerProgress, consumerConnection, resetOffsetByTime];
