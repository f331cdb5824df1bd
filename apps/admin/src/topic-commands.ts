/**
 * Topic commands: updateTopic, deleteTopic, topicList, topicRoute,
 * topicStatus. A topic lives in two places: each broker's topic config (created and deleted on the
 * brokers, which then re-register) and each nameserver's route table; deleteTopic clears both,
 * because a nameserver only forgets a topic when told to or when its last broker leaves.
 */
import { Perm, RequestCode, topicNameProblem } from '@karman/protocol';
import { InvalidArgumentError } from '@karman/protocol';
import { textOf, jsonOf, expectSuccess } from './admin-client.js';
import { boolFlag, intFlag, stringFlag } from './command.js';
import type { Command, CommandContext } from './command.js';
import { offsetTable } from './remoting-json.js';
import { formatTime, table } from './table.js';

/** The KV namespace a nameserver keeps order-topic layouts in (RocketMQ `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`). */
const ORDER_TOPIC_CONFIG = 'ORDER_TOPIC_CONFIG';

function topicFlag(context: CommandContext): string {
  const topic = stringFlag(context, 'topic', true);
  const problem = topicNameProblem(topic);
  if (problem) throw new InvalidArgumentError(`--topic: ${problem}`);
  return topic;
}

const updateTopic: Command = {
  name: 'updateTopic',
  summary: 'Create or update a topic on one broker or on every master of a cluster.',
  example: 'karman-admin updateTopic -n 127.0.0.1:9876 -c DefaultCluster -t OrderEvents -r 8 -w 8',
  flags: [
    { long: 'brokerAddr', short: 'b', type: 'string', description: 'Broker to create the topic on (host:port).' },
    { long: 'clusterName', short: 'c', type: 'string', description: 'Cluster whose every master gets the topic.' },
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'readQueueNums', short: 'r', type: 'string', description: 'Read queues per broker.', defaultText: '8' },
    { long: 'writeQueueNums', short: 'w', type: 'string', description: 'Write queues per broker.', defaultText: '8' },
    { long: 'perm', short: 'p', type: 'string', description: 'Permission: 2 write, 4 read, 6 read and write.', defaultText: '6' },
    { long: 'order', short: 'o', type: 'string', description: 'true for an ordered topic (with -c, also sets ORDER_TOPIC_CONFIG on the nameservers).', defaultText: 'false' },
  ],
  async run(context) {
    const topic = topicFlag(context);
    const readQueueNums = intFlag(context, 'readQueueNums', 8, 1, 1024);
    const writeQueueNums = intFlag(context, 'writeQueueNums', 8, 1, 1024);
    const perm = intFlag(context, 'perm', Perm.READ | Perm.WRITE, 0, 15);
    const order = boolFlag(context, 'order', false);
    const cluster = stringFlag(context, 'clusterName');
    const targets = await context.admin.targets({ brokerAddr: stringFlag(context, 'brokerAddr'), cluster });
    const topicConfig = { topicName: topic, readQueueNums, writeQueueNums, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order };
    const lines: string[] = [];
    for (const address of targets) {
      await context.admin.call(address, RequestCode.UPDATE_AND_CREATE_TOPIC.code, {
        topic,
        defaultTopic: 'TBW102',
        readQueueNums,
        writeQueueNums,
        perm,
        topicFilterType: 'SINGLE_TAG',
        topicSysFlag: 0,
        order,
      });
      lines.push(`create topic to ${address} success.`);
    }
    let orderConf: string | undefined;
    if (order && cluster) {
      // RocketMQ's updateTopic -o true -c: the nameservers hand this layout to producers so ordered
      // sends keep their queue when brokers come and go.
      const masters = await context.admin.clusterMasters(cluster);
      orderConf = masters.map((m) => `${m.brokerName}:${writeQueueNums}`).join(';');
      for (const result of await context.admin.everyNameserver(RequestCode.PUT_KV_CONFIG.code, { namespace: ORDER_TOPIC_CONFIG, key: topic, value: orderConf })) {
        if (result.error) throw result.error;
        expectSuccess(result.response!, result.address);
      }
      lines.push(`set cluster orderConf. isOrder=true, orderConf=[${orderConf}]`);
    }
    lines.push(`TopicConfig ${JSON.stringify(topicConfig)}`);
    return { text: `${lines.join('\n')}\n`, value: { topicConfig, brokers: targets, orderConf: orderConf ?? null } };
  },
};

const deleteTopic: Command = {
  name: 'deleteTopic',
  summary: "Delete a topic from every master of a cluster and from every nameserver's routes.",
  example: 'karman-admin deleteTopic -n 127.0.0.1:9876 -c DefaultCluster -t OrderEvents',
  flags: [
    { long: 'clusterName', short: 'c', type: 'string', description: 'Cluster to delete the topic from.', required: true },
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
  ],
  async run(context) {
    const topic = topicFlag(context);
    const cluster = stringFlag(context, 'clusterName', true);
    const masters = await context.admin.clusterMasters(cluster);
    for (const master of masters) await context.admin.call(master.address, RequestCode.DELETE_TOPIC_IN_BROKER.code, { topic });
    const nameservers: string[] = [];
    for (const result of await context.admin.everyNameserver(RequestCode.DELETE_TOPIC_IN_NAMESRV.code, { topic, clusterName: cluster })) {
      if (result.error) throw result.error;
      expectSuccess(result.response!, result.address);
      nameservers.push(result.address);
    }
    return {
      text: `delete topic [${topic}] from cluster [${cluster}] success.\ndelete topic [${topic}] from NameServer success.\n`,
      value: { topic, cluster, brokers: masters.map((m) => m.address), nameservers },
    };
  },
};

const topicList: Command = {
  name: 'topicList',
  summary: 'List every topic the nameserver routes.',
  example: 'karman-admin topicList -n 127.0.0.1:9876',
  flags: [],
  async run(context) {
    const response = expectSuccess(await context.admin.nameserver(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER.code));
    const topics = [...((jsonOf(response) as { topicList?: string[] }).topicList ?? [])].sort();
    return { text: topics.map((t) => `${t}\n`).join(''), value: topics };
  },
};

const topicRoute: Command = {
  name: 'topicRoute',
  summary: "Print a topic's route: its broker groups with their addresses and its queues per broker.",
  example: 'karman-admin topicRoute -n 127.0.0.1:9876 -t OrderEvents',
  flags: [{ long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true }],
  async run(context) {
    const route = await context.admin.route(topicFlag(context));
    // mqadmin prints the route as pretty JSON; so does this, in both modes.
    return { text: `${JSON.stringify(route, null, 2)}\n`, value: route };
  },
};

interface TopicOffset {
  minOffset: number;
  maxOffset: number;
  lastUpdateTimestamp: number;
}

const topicStatus: Command = {
  name: 'topicStatus',
  summary: 'Per queue of a topic: min offset, max offset and the time of the last message.',
  example: 'karman-admin topicStatus -n 127.0.0.1:9876 -t OrderEvents',
  flags: [{ long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true }],
  async run(context) {
    const topic = topicFlag(context);
    const route = await context.admin.route(topic);
    const rows: Array<{ brokerName: string; queueId: number } & TopicOffset> = [];
    for (const brokerName of route.brokerDatas.map((b) => b.brokerName).sort()) {
      const address = route.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs['0'];
      if (!address) continue;
      const response = await context.admin.call(address, RequestCode.GET_TOPIC_STATS_INFO.code, { topic });
      for (const { key, value } of offsetTable<TopicOffset>(textOf(response))) rows.push({ brokerName: key.brokerName, queueId: key.queueId, ...value });
    }
    return {
      text: table(
        ['Broker Name', 'QID', 'Min Offset', 'Max Offset', 'Last Updated'],
        rows.map((r) => [r.brokerName, r.queueId, r.minOffset, r.maxOffset, formatTime(r.lastUpdateTimestamp)]),
      ),
      value: rows,
    };
  },
};

export const topicCommands: readonly Command[] = [updateTopic, deleteTopic, topicList, topicRoute, topicStatus];
