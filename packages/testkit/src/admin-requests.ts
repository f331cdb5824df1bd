/**
 * The two admin requests both test clusters (in-process and process-level) make: create a topic on
 * a broker, and wait until a nameserver routes a topic to a set of brokers.
 */
import { KarmanError, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import type { RemotingClient } from '@karman/protocol';

export interface TopicSpec {
  queues?: number;
  perm?: number;
  order?: boolean;
}

/** UPDATE_AND_CREATE_TOPIC on one broker, as `mqadmin updateTopic -b` does. */
export async function createTopicOn(broker: RemotingClient, brokerName: string, topic: string, spec: TopicSpec): Promise<void> {
  const queues = spec.queues ?? 4;
  const response = await broker.request(
    createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: queues,
      writeQueueNums: queues,
      perm: spec.perm ?? 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: 0,
      order: spec.order ?? false,
    }),
  );
  if (response.code !== ResponseCode.SUCCESS.code) throw new KarmanError('CREATE_TOPIC_FAILED', `creating ${topic} on ${brokerName} failed: ${response.remark}`);
}

/** Poll one nameserver until it routes `topic` to every broker name given, or the deadline passes. */
export async function waitForRouteOn(nameserver: RemotingClient, topic: string, brokerNames: readonly string[], deadline: number): Promise<void> {
  for (;;) {
    const response = await nameserver.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }));
    if (response.code === ResponseCode.SUCCESS.code) {
      const route = JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { queueDatas: Array<{ brokerName: string }> };
      const routed = new Set(route.queueDatas.map((q) => q.brokerName));
      if (brokerNames.every((b) => routed.has(b))) return;
    }
    if (Date.now() > deadline) throw new KarmanError('ROUTE_TIMEOUT', `the nameserver at ${nameserver.address} did not route ${topic} to ${brokerNames.join(', ')} in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
