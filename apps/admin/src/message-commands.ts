/**
 * Message commands: queryMsgById, queryMsgByKey, queryMsgByOffset,
 * sendMessage, consumeMessage.
 *
 * consumeMessage reads with plain PULL_MESSAGE requests as the group TOOLS_CONSUMER (RocketMQ's
 * `MixAll.TOOLS_CONSUMER_GROUP`, which its tools pull as too): the request carries its own
 * subscription (`*`), so no heartbeat or rebalance is involved, and it never sets the commit flag,
 * so no offset of any group moves. The broker may auto-create the TOOLS_CONSUMER group config on
 * first use, as RocketMQ's does; one fixed name keeps that to a single group instead of one per run.
 * queryMsgByOffset needs no group at all: QUERY_CONSUME_QUEUE (321) then VIEW_MESSAGE_BY_ID (33).
 */
import { InvalidArgumentError, KarmanError, RemoteError, RequestCode, ResponseCode, decodeOffsetMessageId, decodeRecord, decodeRecords, isReadable, normalizeHost } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { Producer } from '@karman/producer';
import { jsonOf } from './admin-client.js';
import { intFlag, parseTime, stringFlag } from './command.js';
import type { Command, CommandContext } from './command.js';
import { formatTime, messageDetail, messageView, shownBody, table } from './table.js';
import type { MessageView } from './table.js';

/** The group consumeMessage pulls as (RocketMQ `MixAll.TOOLS_CONSUMER_GROUP`). */
const TOOLS_CONSUMER_GROUP = 'TOOLS_CONSUMER';
/** The producer group sendMessage sends as. */
const TOOLS_PRODUCER_GROUP = 'TOOLS_PRODUCER';
/** Messages one pull asks for (RocketMQ's pull batch default). */
const PULL_BATCH = 32;
/** `PullSysFlag.SUBSCRIPTION`: the subscription travels in the request. */
const PULL_SYS_FLAG_SUBSCRIPTION = 4;

function bodyBuffer(response: RemotingCommand): Buffer {
  const body = response.body ?? new Uint8Array();
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The one message a VIEW_MESSAGE_BY_ID answer holds. */
function viewOf(response: RemotingCommand): MessageView {
  const decoded = decodeRecord(bodyBuffer(response), 0);
  if (decoded.kind !== 'record') throw new KarmanError('BAD_RESPONSE', 'the broker answered a blank record instead of a message');
  return messageView(decoded.record);
}

const queryMsgById: Command = {
  name: 'queryMsgById',
  summary: 'Print a message by its offset id (the broker address and commit-log offset it encodes).',
  example: 'karman-admin queryMsgById -n 127.0.0.1:9876 -i 7F00000100002A9F0000000000000000',
  flags: [{ long: 'msgId', short: 'i', type: 'string', description: 'Offset message id (32 or 56 hex characters); several may be given, comma-separated.', required: true }],
  async run(context) {
    const views: MessageView[] = [];
    for (const id of stringFlag(context, 'msgId', true).split(',').map((s) => s.trim()).filter(Boolean)) {
      let decoded;
      try {
        decoded = decodeOffsetMessageId(id);
      } catch (error) {
        throw new InvalidArgumentError(`--msgId: ${(error as Error).message}; give the offset id (offsetMsgId) a send printed, or use queryMsgByKey for a key`, error);
      }
      const host = normalizeHost(decoded.host.host);
      const address = `${host.includes(':') ? `[${host}]` : host}:${decoded.host.port}`;
      views.push(viewOf(await context.admin.call(address, RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: decoded.physicalOffset })));
    }
    return { text: views.map(messageDetail).join('\n'), value: views.length === 1 ? views[0] : views };
  },
};

const queryMsgByKey: Command = {
  name: 'queryMsgByKey',
  summary: 'List the messages of a topic with a key (the KEYS a producer set), from every broker.',
  example: 'karman-admin queryMsgByKey -n 127.0.0.1:9876 -t OrderEvents -k order-1001',
  flags: [
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'msgKey', short: 'k', type: 'string', description: 'Message key.', required: true },
    { long: 'beginTimestamp', short: 'b', type: 'string', description: 'Stored at or after (now, epoch ms or yyyy-MM-dd#HH:mm:ss:SSS).', defaultText: '0' },
    { long: 'endTimestamp', short: 'e', type: 'string', description: 'Stored at or before.', defaultText: 'no limit' },
    { long: 'maxNum', short: 'm', type: 'string', description: 'Most messages per broker (1 to 64).', defaultText: '64' },
  ],
  async run(context) {
    const topic = stringFlag(context, 'topic', true);
    const key = stringFlag(context, 'msgKey', true);
    const begin = stringFlag(context, 'beginTimestamp');
    const end = stringFlag(context, 'endTimestamp');
    const beginTimestamp = begin === undefined ? 0 : parseTime(begin, context.now(), 'beginTimestamp');
    const endTimestamp = end === undefined ? Number.MAX_SAFE_INTEGER : parseTime(end, context.now(), 'endTimestamp');
    const maxNum = intFlag(context, 'maxNum', 64, 1, 64);
    const route = await context.admin.route(topic);
    const found: Array<MessageView & { brokerName: string }> = [];
    for (const brokerName of route.brokerDatas.map((b) => b.brokerName).sort()) {
      const address = route.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs['0'];
      if (!address) continue;
      const response = await context.admin.request(address, RequestCode.QUERY_MESSAGE.code, { topic, key, maxNum, beginTimestamp, endTimestamp });
      if (response.code === ResponseCode.QUERY_NOT_FOUND.code) continue;
      if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
      for (const record of decodeRecords(bodyBuffer(response))) found.push({ ...messageView(record), brokerName });
    }
    return {
      text: table(
        ['Message ID', 'Offset ID', 'Broker Name', 'QID', 'Offset', 'Store Time'],
        found.map((m) => [m.msgId, m.offsetMsgId, m.brokerName, m.queueId, m.queueOffset, formatTime(m.storeTimestamp)]),
      ),
      value: found,
    };
  },
};

const queryMsgByOffset: Command = {
  name: 'queryMsgByOffset',
  summary: 'Print the message at a queue offset of one queue.',
  example: 'karman-admin queryMsgByOffset -n 127.0.0.1:9876 -t OrderEvents -b broker-a -i 0 -o 0',
  flags: [
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'brokerName', short: 'b', type: 'string', description: 'Broker name (as in topicRoute).', required: true },
    { long: 'queueId', short: 'i', type: 'string', description: 'Queue id.', required: true },
    { long: 'offset', short: 'o', type: 'string', description: 'Queue offset.', required: true },
  ],
  async run(context) {
    const topic = stringFlag(context, 'topic', true);
    const brokerName = stringFlag(context, 'brokerName', true);
    const queueId = intFlag(context, 'queueId', undefined, 0);
    const offset = intFlag(context, 'offset', undefined, 0);
    const address = context.admin.masterOf(await context.admin.route(topic), brokerName);
    const units = jsonOf(await context.admin.call(address, RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId, index: offset, count: 1 })) as {
      minQueueIndex?: number;
      maxQueueIndex?: number;
      queueData?: Array<{ physicOffset: number; queueOffset?: number }>;
    };
    // The answer's units start at `index`. RocketMQ's ConsumeQueueData has no queue offset field
    // (Karman's broker adds one), so the unit is found by position, inside the queue's bounds; for
    // an index it does not hold, RocketMQ answers SUCCESS with no body at all.
    const inQueue = units.minQueueIndex !== undefined && units.maxQueueIndex !== undefined && offset >= units.minQueueIndex && offset < units.maxQueueIndex;
    const unit = inQueue ? units.queueData?.find((u, i) => (u.queueOffset ?? offset + i) === offset) : undefined;
    if (!unit) {
      const bound = async (code: number): Promise<number> => Number((await context.admin.call(address, code, { topic, queueId })).extFields.offset);
      const min = units.minQueueIndex ?? (await bound(RequestCode.GET_MIN_OFFSET.code));
      const max = units.maxQueueIndex ?? (await bound(RequestCode.GET_MAX_OFFSET.code));
      throw new KarmanError('NO_MESSAGE', `queue ${queueId} of "${topic}" on ${brokerName} has no message at offset ${offset} (it holds ${min} to ${max - 1}); check -o`);
    }
    const view = viewOf(await context.admin.call(address, RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: unit.physicOffset, topic }));
    return { text: messageDetail(view), value: view };
  },
};

const sendMessage: Command = {
  name: 'sendMessage',
  summary: 'Send one message and print where it was stored.',
  example: "karman-admin sendMessage -n 127.0.0.1:9876 -t OrderEvents -p 'hello' -k order-1001 -c created",
  flags: [
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'body', short: 'p', type: 'string', description: 'Message body (UTF-8 text).', required: true },
    { long: 'keys', short: 'k', type: 'string', description: 'Message keys, space-separated.' },
    { long: 'tags', short: 'c', type: 'string', description: 'Message tag.' },
    { long: 'broker', short: 'b', type: 'string', description: 'Send to this broker name (with -i).' },
    { long: 'qid', short: 'i', type: 'string', description: 'Send to this queue id (with -b).' },
  ],
  async run(context) {
    const topic = stringFlag(context, 'topic', true);
    const body = stringFlag(context, 'body', true);
    const keys = stringFlag(context, 'keys');
    const tags = stringFlag(context, 'tags');
    const brokerName = stringFlag(context, 'broker');
    const queueText = stringFlag(context, 'qid');
    if ((brokerName === undefined) !== (queueText === undefined)) throw new InvalidArgumentError('give -b BROKER_NAME and -i QUEUE_ID together, or neither');
    const queue = brokerName === undefined ? undefined : { topic, brokerName, queueId: intFlag(context, 'qid', undefined, 0) };
    const producer = new Producer({ nameservers: [...context.admin.nameservers], group: TOOLS_PRODUCER_GROUP });
    await producer.start();
    try {
      const result = await producer.send({ topic, body, ...(keys ? { keys: keys.split(' ').filter(Boolean) } : {}), ...(tags ? { tags } : {}) }, queue ? { queue } : {});
      const value = { brokerName: result.messageQueue.brokerName, queueId: result.messageQueue.queueId, queueOffset: result.queueOffset, sendStatus: result.status, msgId: result.msgId, offsetMsgId: result.offsetMsgId };
      return {
        text: table(['Broker Name', 'QID', 'Send Result', 'MsgId', 'OffsetMsgId'], [[value.brokerName, value.queueId, value.sendStatus, value.msgId, value.offsetMsgId]]),
        value,
      };
    } finally {
      await producer.shutdown();
    }
  },
};

interface PullHeader {
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
}

function pullHeader(response: RemotingCommand): PullHeader {
  const f = response.extFields;
  return { nextBeginOffset: Number(f.nextBeginOffset), minOffset: Number(f.minOffset), maxOffset: Number(f.maxOffset) };
}

/** Messages of one queue from `offset`, at most `count`, stopping at the end of the queue or past `endTimestamp`. */
async function pullQueue(context: CommandContext, address: string, topic: string, queueId: number, from: number, count: number, endTimestamp: number): Promise<MessageView[]> {
  const out: MessageView[] = [];
  let offset = from;
  while (out.length < count) {
    const response = await context.admin.request(address, RequestCode.PULL_MESSAGE.code, {
      consumerGroup: TOOLS_CONSUMER_GROUP,
      topic,
      queueId,
      queueOffset: offset,
      maxMsgNums: Math.min(PULL_BATCH, count - out.length),
      sysFlag: PULL_SYS_FLAG_SUBSCRIPTION,
      commitOffset: 0,
      suspendTimeoutMillis: 0,
      subscription: '*',
      subVersion: 0,
      expressionType: 'TAG',
    });
    const header = pullHeader(response);
    if (response.code === ResponseCode.PULL_OFFSET_MOVED.code) {
      // The offset fell outside what the queue holds (old segments deleted): carry on from where the broker says.
      if (!(header.nextBeginOffset > offset)) return out;
      offset = header.nextBeginOffset;
      continue;
    }
    if (response.code === ResponseCode.PULL_NOT_FOUND.code || response.code === ResponseCode.PULL_RETRY_IMMEDIATELY.code) return out;
    if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
    const records = decodeRecords(bodyBuffer(response));
    for (const record of records) {
      if (record.storeTimestamp > endTimestamp) return out;
      out.push(messageView(record));
      if (out.length >= count) break;
    }
    if (records.length === 0 || !(header.nextBeginOffset > offset)) return out;
    offset = header.nextBeginOffset;
  }
  return out;
}

const consumeMessage: Command = {
  name: 'consumeMessage',
  summary: "Print messages of a topic, from a queue offset or a time, without moving any group's offsets.",
  example: 'karman-admin consumeMessage -n 127.0.0.1:9876 -t OrderEvents -c 10',
  flags: [
    { long: 'topic', short: 't', type: 'string', description: 'Topic name.', required: true },
    { long: 'brokerName', short: 'b', type: 'string', description: 'Only this broker name.' },
    { long: 'queueId', short: 'i', type: 'string', description: 'Only this queue id.' },
    { long: 'offset', short: 'o', type: 'string', description: 'Start at this queue offset in each queue read.', defaultText: 'the oldest message' },
    { long: 'beginTimestamp', short: 's', type: 'string', description: 'Start at the first message stored at or after this time (now, epoch ms or yyyy-MM-dd#HH:mm:ss:SSS).' },
    { long: 'endTimestamp', short: 'e', type: 'string', description: 'Stop at messages stored after this time.' },
    { long: 'messageNumber', short: 'c', type: 'string', description: 'Most messages to print in all.', defaultText: '128' },
  ],
  async run(context) {
    const topic = stringFlag(context, 'topic', true);
    const onlyBroker = stringFlag(context, 'brokerName');
    const onlyQueue = stringFlag(context, 'queueId') === undefined ? undefined : intFlag(context, 'queueId', undefined, 0);
    const startOffset = stringFlag(context, 'offset') === undefined ? undefined : intFlag(context, 'offset', undefined, 0);
    const begin = stringFlag(context, 'beginTimestamp');
    const end = stringFlag(context, 'endTimestamp');
    if (startOffset !== undefined && begin !== undefined) throw new InvalidArgumentError('give -o OFFSET or -s TIME, not both');
    const beginTimestamp = begin === undefined ? undefined : parseTime(begin, context.now(), 'beginTimestamp');
    const endTimestamp = end === undefined ? Number.MAX_SAFE_INTEGER : parseTime(end, context.now(), 'endTimestamp');
    const count = intFlag(context, 'messageNumber', 128, 1);
    const route = await context.admin.route(topic);
    const queues: Array<{ brokerName: string; queueId: number; address: string }> = [];
    for (const queueData of [...route.queueDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
      if (!isReadable(queueData.perm) || (onlyBroker !== undefined && queueData.brokerName !== onlyBroker)) continue;
      const address = context.admin.masterOf(route, queueData.brokerName);
      for (let queueId = 0; queueId < queueData.readQueueNums; queueId++) if (onlyQueue === undefined || onlyQueue === queueId) queues.push({ brokerName: queueData.brokerName, queueId, address });
    }
    if (queues.length === 0) throw new KarmanError('NO_QUEUE', `no readable queue of "${topic}" matches${onlyBroker ? ` -b ${onlyBroker}` : ''}${onlyQueue !== undefined ? ` -i ${onlyQueue}` : ''}; see topicRoute`);
    const messages: Array<MessageView & { brokerName: string }> = [];
    for (const queue of queues) {
      if (messages.length >= count) break;
      let from: number;
      if (startOffset !== undefined) from = startOffset;
      else if (beginTimestamp !== undefined) {
        from = Number((await context.admin.call(queue.address, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { topic, queueId: queue.queueId, timestamp: beginTimestamp })).extFields.offset);
      } else from = Number((await context.admin.call(queue.address, RequestCode.GET_MIN_OFFSET.code, { topic, queueId: queue.queueId })).extFields.offset);
      for (const view of await pullQueue(context, queue.address, topic, queue.queueId, from, count - messages.length, endTimestamp)) messages.push({ ...view, brokerName: queue.brokerName });
    }
    const text = messages
      .map((m) => `MSGID: ${m.msgId} Broker: ${m.brokerName} QID: ${m.queueId} Offset: ${m.queueOffset} Tags: ${m.tags ?? ''} Keys: ${m.keys ?? ''} StoreTime: ${formatTime(m.storeTimestamp)} BODY: ${shownBody(m)}\n`)
      .join('');
    return { text: text + `Consumed ${messages.length} message${messages.length === 1 ? '' : 's'}.\n`, value: messages };
  },
};

export const messageCommands: readonly Command[] = [queryMsgById, queryMsgByKey, queryMsgByOffset, sendMessage, consumeMessage];
