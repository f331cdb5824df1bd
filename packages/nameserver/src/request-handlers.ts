/**
 * The nameserver's request handlers, RocketMQ's `DefaultRequestProcessor` and
 * `ClientRequestProcessor`: one function per request code from
 * (request, parsed header, connection) to the response. Headers arrive already checked by the
 * transport against `@karman/protocol`'s header schemas (field names as RocketMQ's
 * `*RequestHeader` classes); bodies are checked here. A thrown `KarmanError` becomes an error
 * response with its message as remark, and nothing here changes a table before its input is
 * known to be good.
 */
import { z } from 'zod';
import { InvalidArgumentError, RequestCode, ResponseCode, createResponse } from '@karman/protocol';
import type {
  BrokerIdentityRequestHeader,
  BrokerNameRequestHeader,
  DeleteTopicFromNamesrvRequestHeader,
  GetKVListByNamespaceRequestHeader,
  GetTopicsByClusterRequestHeader,
  KVConfigKeyRequestHeader,
  PutKVConfigRequestHeader,
  RegisterBrokerRequestHeader,
  RemotingCommand,
  TopicRequestHeader,
} from '@karman/protocol';
import { MAX_TOPIC_QUEUE_NUMS, configBodyTooLarge, formatProperties, parseProperties } from '@karman/protocol';
import type { KVConfigManager } from './kv-config-manager.js';
import { RUNTIME_UPDATABLE_OPTIONS, nameServerOptionNames } from './name-server-options.js';
import type { NameServerConfig } from './name-server-options.js';
import { assertValid, brokerNameProblem, topicNameProblem } from './names.js';
import { decodeRegisterBrokerBody } from './register-broker-body.js';
import { ORDER_TOPIC_CONFIG_NAMESPACE, jsonBody } from './route-data.js';
import type { BrokerConnection, RouteInfoManager } from './route-info-manager.js';

/** What the handlers work on. */
export interface NameServerHandlerContext {
  routes: RouteInfoManager;
  kv: KVConfigManager;
  /** The live configuration; read on every request so runtime updates apply at once. */
  config(): NameServerConfig;
  /** Apply UPDATE_NAMESRV_CONFIG's checked changes. */
  updateConfig(changes: Record<string, string>): void;
  /** A registration's entries left out (bad names or fields), for the log. */
  onEntriesSkipped?(brokerName: string, brokerAddr: string, skipped: readonly string[]): void;
}

/** A nameserver request handler. `connection` is the peer's connection (absent when called in-process). */
export type NameServerRequestHandler = (
  request: RemotingCommand,
  header: unknown,
  connection: BrokerConnection | undefined,
) => RemotingCommand | Promise<RemotingCommand>;

const dataVersionSchema = z.looseObject({ timestamp: z.number().int().min(0), counter: z.number().int().min(0) });

const queueDataSchema = z.looseObject({
  brokerName: z.string(),
  readQueueNums: z.number().int().min(0).max(MAX_TOPIC_QUEUE_NUMS),
  writeQueueNums: z.number().int().min(0).max(MAX_TOPIC_QUEUE_NUMS),
  perm: z.number().int().min(0).max(15),
  topicSysFlag: z.number().int().min(0).optional(),
  // Java 4.x misspelled it in places; accept both.
  topicSynFlag: z.number().int().min(0).optional(),
});
const registerTopicBodySchema = z.looseObject({ queueDatas: z.array(queueDataSchema) });

function parseJsonBody<T>(request: RemotingCommand, schema: z.ZodType<T>, what: string, expected: string): T {
  if (request.body === undefined || request.body.length === 0) throw new InvalidArgumentError(`${what} needs a body: ${expected}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString('utf8'));
  } catch {
    throw new InvalidArgumentError(`${what} body is not JSON; expected ${expected}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(`${what} body ${issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'is invalid'}; expected ${expected}`);
  }
  return parsed.data;
}

const success = (request: RemotingCommand, extFields: Record<string, string | number | boolean | undefined> = {}, body?: Uint8Array): RemotingCommand =>
  createResponse(request, ResponseCode.SUCCESS.code, undefined, extFields, body);

/**
 * The handler of every request code the nameserver serves, keyed by code. The `NameServer` class
 * registers them on its transport; tests may call them directly.
 */
export function createNameServerHandlers(ctx: NameServerHandlerContext): Map<number, NameServerRequestHandler> {
  const { routes, kv } = ctx;
  const handlers = new Map<number, NameServerRequestHandler>();
  const on = (code: number, handler: NameServerRequestHandler): void => void handlers.set(code, handler);

  const orderTopicConfigBody = (): Uint8Array | undefined => {
    const table = kv.getNamespace(ORDER_TOPIC_CONFIG_NAMESPACE);
    return table === undefined ? undefined : jsonBody({ table });
  };

  // KV config
  on(RequestCode.PUT_KV_CONFIG.code, async (request, header) => {
    const h = header as PutKVConfigRequestHeader;
    await kv.put(h.namespace, h.key, h.value);
    return success(request);
  });
  on(RequestCode.GET_KV_CONFIG.code, (request, header) => {
    const h = header as KVConfigKeyRequestHeader;
    const value = kv.get(h.namespace, h.key);
    if (value === undefined) return createResponse(request, ResponseCode.QUERY_NOT_FOUND.code, `No config item, Namespace: ${h.namespace} Key: ${h.key}`);
    return success(request, { value });
  });
  on(RequestCode.DELETE_KV_CONFIG.code, async (request, header) => {
    const h = header as KVConfigKeyRequestHeader;
    await kv.delete(h.namespace, h.key);
    return success(request);
  });
  on(RequestCode.GET_KVLIST_BY_NAMESPACE.code, (request, header) => {
    const h = header as GetKVListByNamespaceRequestHeader;
    const table = kv.getNamespace(h.namespace);
    if (table === undefined) return createResponse(request, ResponseCode.QUERY_NOT_FOUND.code, `No config item, Namespace: ${h.namespace}`);
    return success(request, {}, jsonBody({ table }));
  });

  // Brokers
  on(RequestCode.REGISTER_BROKER.code, (request, header, connection) => {
    const h = header as RegisterBrokerRequestHeader;
    const body = decodeRegisterBrokerBody(request.body, { compressed: h.compressed, bodyCrc32: h.bodyCrc32 });
    if (body.skipped.length > 0) ctx.onEntriesSkipped?.(h.brokerName, h.brokerAddr, body.skipped);
    const result = routes.registerBroker({
      clusterName: h.clusterName,
      brokerAddr: h.brokerAddr,
      brokerName: h.brokerName,
      brokerId: h.brokerId,
      haServerAddr: h.haServerAddr,
      topicConfigs: body.topicConfigs,
      dataVersion: body.dataVersion,
      filterServerList: body.filterServerList,
      connection,
      timeoutMillis: h.heartbeatTimeoutMillis,
      deleteTopicsNotListed: ctx.config().deleteTopicWithBrokerRegistration,
    });
    const responseBody = ctx.config().returnOrderTopicConfigToBroker ? orderTopicConfigBody() : undefined;
    return success(request, { haServerAddr: result.haServerAddr, masterAddr: result.masterAddr }, responseBody);
  });
  on(RequestCode.UNREGISTER_BROKER.code, (request, header) => {
    const h = header as BrokerIdentityRequestHeader;
    routes.unregisterBroker(h);
    return success(request);
  });
  on(RequestCode.QUERY_DATA_VERSION.code, (request, header) => {
    const h = header as BrokerIdentityRequestHeader;
    const version = parseJsonBody(request, dataVersionSchema, 'QUERY_DATA_VERSION', 'DataVersion {timestamp, counter}');
    const changed = routes.isBrokerTopicConfigChanged(h.brokerAddr, version);
    // An unchanged version is the broker's registration in all but name: it proves it is alive.
    if (!changed) routes.updateBrokerInfoUpdateTimestamp(h.brokerAddr);
    const stored = routes.queryBrokerDataVersion(h.brokerAddr);
    return success(request, { changed }, stored === undefined ? undefined : jsonBody(stored));
  });
  on(RequestCode.WIPE_WRITE_PERM_OF_BROKER.code, (request, header) => {
    const h = header as BrokerNameRequestHeader;
    assertValid(brokerNameProblem(h.brokerName));
    return success(request, { wipeTopicCount: routes.wipeWritePermOfBroker(h.brokerName) });
  });
  on(RequestCode.ADD_WRITE_PERM_OF_BROKER.code, (request, header) => {
    const h = header as BrokerNameRequestHeader;
    assertValid(brokerNameProblem(h.brokerName));
    return success(request, { addTopicCount: routes.addWritePermOfBroker(h.brokerName) });
  });

  // Routes and topics
  on(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, (request, header) => {
    const h = header as TopicRequestHeader;
    const route = routes.pickupTopicRouteData(h.topic);
    if (route === undefined) {
      return createResponse(request, ResponseCode.TOPIC_NOT_EXIST.code, `No topic route info in name server for the topic: ${h.topic.slice(0, 200)}`);
    }
    if (ctx.config().orderMessageEnable) {
      const orderTopicConf = kv.get(ORDER_TOPIC_CONFIG_NAMESPACE, h.topic);
      if (orderTopicConf !== undefined) route.orderTopicConf = orderTopicConf;
    }
    return success(request, {}, jsonBody(route));
  });
  on(RequestCode.GET_BROKER_CLUSTER_INFO.code, (request) => success(request, {}, jsonBody(routes.getClusterInfo())));
  on(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER.code, (request) => success(request, {}, jsonBody({ topicList: routes.getAllTopicList() })));
  on(RequestCode.GET_TOPICS_BY_CLUSTER.code, (request, header) => {
    const h = header as GetTopicsByClusterRequestHeader;
    return success(request, {}, jsonBody({ topicList: routes.getTopicsByCluster(h.cluster) }));
  });
  on(RequestCode.DELETE_TOPIC_IN_NAMESRV.code, (request, header) => {
    const h = header as DeleteTopicFromNamesrvRequestHeader;
    assertValid(topicNameProblem(h.topic));
    routes.deleteTopic(h.topic, h.clusterName);
    return success(request);
  });
  on(RequestCode.REGISTER_TOPIC_IN_NAMESRV.code, (request, header) => {
    const h = header as TopicRequestHeader;
    assertValid(topicNameProblem(h.topic));
    const body = parseJsonBody(request, registerTopicBodySchema, 'REGISTER_TOPIC_IN_NAMESRV', 'TopicRouteData {queueDatas:[{brokerName, readQueueNums, writeQueueNums, perm, topicSysFlag}]}');
    routes.registerTopic(
      h.topic,
      body.queueDatas.map((q) => ({ brokerName: q.brokerName, readQueueNums: q.readQueueNums, writeQueueNums: q.writeQueueNums, perm: q.perm, topicSysFlag: q.topicSysFlag ?? q.topicSynFlag ?? 0 })),
    );
    return success(request);
  });

  // Configuration (318/319)
  on(RequestCode.UPDATE_NAMESRV_CONFIG.code, (request) => {
    const tooLarge = configBodyTooLarge(request.body, 'UPDATE_NAMESRV_CONFIG');
    if (tooLarge) throw new InvalidArgumentError(tooLarge);
    const text = request.body === undefined ? '' : Buffer.from(request.body).toString('utf8');
    const changes = parseProperties(text);
    const keys = Object.keys(changes);
    if (keys.length === 0) throw new InvalidArgumentError('UPDATE_NAMESRV_CONFIG needs a body of key=value lines (properties text)');
    for (const key of keys) {
      if (!(nameServerOptionNames as string[]).includes(key)) {
        throw new InvalidArgumentError(`unknown nameserver option "${key}"; known: ${nameServerOptionNames.join(', ')}`);
      }
      if (!RUNTIME_UPDATABLE_OPTIONS.has(key)) {
        throw new InvalidArgumentError(`option "${key}" cannot change while the nameserver runs (changeable: ${[...RUNTIME_UPDATABLE_OPTIONS].join(', ')}); restart with it set`);
      }
    }
    ctx.updateConfig(changes);
    return success(request);
  });
  on(RequestCode.GET_NAMESRV_CONFIG.code, (request) => success(request, {}, Buffer.from(formatProperties(ctx.config()), 'utf8')));

  return handlers;
}
