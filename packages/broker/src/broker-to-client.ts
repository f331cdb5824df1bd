/**
 * Requests the broker sends to the consumers connected to it on an admin's behalf (RocketMQ
 * `Broker2Client`, reached through `AdminBrokerProcessor`):
 *
 *   INVOKE_BROKER_TO_RESET_OFFSET (222)  mqadmin resetOffsetByTime: the offset of every queue of the
 *     topic for the timestamp (-1: the queue's end), never forward unless isForce; stored as the
 *     group's offsets and pushed to each online member as RESET_CONSUMER_CLIENT_OFFSET (220,
 *     oneway, body ResetOffsetBody `{"offsetTable":{<MessageQueue>:offset,...}}`), so running
 *     consumers rewind without a restart. Answered with the same offset table, or CONSUMER_NOT_ONLINE
 *     (206) when the group has no member here: mqadmin then falls back to setting the stored
 *     offsets itself (resetOffsetByTimeOld).
 *   INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223)  each member's in-memory offsets, asked with
 *     GET_CONSUMER_STATUS_FROM_CLIENT (221) and answered as GetConsumerStatusBody
 *     `{"consumerTable":{clientId:{<MessageQueue>:offset}},"messageQueueTable":{}}`.
 *
 * Offset tables are fastjson maps keyed by queue objects, written and read by `@karman/protocol`.
 * A C++ client (language CPP) gets the list form RocketMQ sends it, ResetOffsetBodyForC.
 */
import { RequestCode, ResponseCode, createRequest, createResponse, encodeQueueOffsets, parseRemotingJson, readQueueOffsets } from '@karman/protocol';
import type { GetConsumerStatusRequestHeader, QueueOffset, RemotingCommand, ResetOffsetRequestHeader } from '@karman/protocol';
import type { BrokerContext } from './broker-context.js';

/** How long a pushed request may take per client (RocketMQ's 5 s). */
const CLIENT_REQUEST_TIMEOUT_MILLIS = 5_000;

/** INVOKE_BROKER_TO_RESET_OFFSET: compute, store and push the offsets of `header.topic` for `header.group`. */
export async function resetOffset(context: BrokerContext, request: RemotingCommand, header: ResetOffsetRequestHeader): Promise<RemotingCommand> {
  const { topic, group, timestamp, isForce } = header;
  const { brokerName } = context.config;
  const config = context.topics.get(topic);
  if (!config) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST.code, `cannot reset offsets: topic "${topic}" does not exist on ${brokerName}`);
  const table: QueueOffset[] = [];
  for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
    const consumerOffset = context.offsets.query(group, topic, queueId);
    // As RocketMQ: a group with no offset for a queue here is taken for an unknown group.
    if (consumerOffset < 0) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `cannot reset offsets: the consumer group "${group}" has no offset for ${topic} queue ${queueId} on ${brokerName}; let it consume first, or set its offsets with UPDATE_CONSUMER_OFFSET`);
    }
    let target = timestamp === -1 ? context.store.getMaxOffsetInQueue(topic, queueId) : await context.store.getOffsetInQueueByTime(topic, queueId, timestamp);
    if (target < 0) target = 0;
    table.push({ queue: { topic, brokerName, queueId }, offset: isForce || target < consumerOffset ? target : consumerOffset });
  }
  const members = [...(context.clients.consumerGroup(group)?.members.values() ?? [])];
  if (members.length === 0) {
    return createResponse(request, ResponseCode.CONSUMER_NOT_ONLINE.code, `Consumer not online, so can not reset offset, Group: ${group} Topic: ${topic} Timestamp: ${timestamp}`);
  }
  // Stored first, so a member that misses the push (or restarts) still starts from the new offsets.
  for (const { queue, offset } of table) context.offsets.commit(group, topic, queue.queueId, offset);
  context.offsets.clearPull(group, topic);
  const offsetTable = encodeQueueOffsets(table);
  const forC = `{"offsetTable":[${table.map(({ queue, offset }) => JSON.stringify({ brokerName: queue.brokerName, offset, queueId: queue.queueId, topic: queue.topic })).join(',')}]}`;
  for (const member of members) {
    const body = member.language === 'CPP' ? forC : `{"offsetTable":${offsetTable}}`;
    try {
      member.channel.oneway(createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET.code, { topic, group, timestamp, isForce }, Buffer.from(body, 'utf8')));
    } catch (error) {
      context.log('warn', `could not push the offset reset of group ${group} to client ${member.clientId}: ${(error as Error).message}`, { group, topic, clientId: member.clientId });
    }
  }
  context.log('info', `offsets of group ${group} on topic ${topic} reset for timestamp ${timestamp}`, { group, topic, timestamp, isForce, clients: members.length });
  return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(`{"offsetTable":${offsetTable}}`, 'utf8'));
}

/**
 * INVOKE_BROKER_TO_GET_CONSUMER_STATUS: ask every member of the group (or only the one whose client
 * id is `clientAddr`, as RocketMQ compares it) for its offsets of the topic. A member that does not
 * answer in time is left out.
 */
export async function consumerStatus(context: BrokerContext, request: RemotingCommand, header: GetConsumerStatusRequestHeader): Promise<RemotingCommand> {
  const { topic, group } = header;
  const wanted = header.clientAddr?.trim() || undefined;
  const members = [...(context.clients.consumerGroup(group)?.members.values() ?? [])].filter((m) => wanted === undefined || m.clientId === wanted);
  if (members.length === 0) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `No Any Consumer online in the consumer group: [${group}]${wanted ? ` with client id ${wanted}` : ''} on ${context.config.brokerName}`);
  }
  const answers = await Promise.all(
    members.map(async (member): Promise<[string, QueueOffset[]] | undefined> => {
      try {
        const response = await member.channel.request(createRequest(RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT.code, { topic, group }), CLIENT_REQUEST_TIMEOUT_MILLIS);
        if (response.code !== ResponseCode.SUCCESS.code || !response.body || response.body.length === 0) return undefined;
        const parsed = parseRemotingJson(Buffer.from(response.body).toString('utf8')) as { messageQueueTable?: unknown } | null;
        const offsets = readQueueOffsets(parsed?.messageQueueTable);
        return offsets ? [member.clientId, offsets] : undefined;
      } catch (error) {
        context.log('warn', `client ${member.clientId} of group ${group} did not report its consumer status: ${(error as Error).message}`, { group, topic, clientId: member.clientId });
        return undefined;
      }
    }),
  );
  const consumerTable = answers
    .filter((a): a is [string, QueueOffset[]] => a !== undefined)
    .map(([clientId, offsets]) => `${JSON.stringify(clientId)}:${encodeQueueOffsets(offsets)}`)
    .join(',');
  return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(`{"consumerTable":{${consumerTable}},"messageQueueTable":{}}`, 'utf8'));
}
