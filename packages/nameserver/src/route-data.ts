/**
 * The JSON shapes the nameserver speaks, as RocketMQ's Java classes serialize them (fastjson field
 * names), so RocketMQ's own clients, ali-ons and Karman's clients all parse the same bytes
 * (RocketMQ's TopicRouteData, QueueData, BrokerData).
 *
 *   TopicRouteData  {orderTopicConf?, queueDatas: QueueData[], brokerDatas: BrokerData[],
 *                    filterServerTable: {brokerAddr: string[]}}
 *   QueueData       {brokerName, readQueueNums, writeQueueNums, perm, topicSysFlag}
 *   BrokerData      {cluster, brokerName, brokerAddrs: {"<brokerId>": "ip:port"}}   (id 0 = master)
 *   ClusterInfo     {brokerAddrTable: {brokerName: BrokerData}, clusterAddrTable: {cluster: brokerName[]}}
 *   TopicList       {topicList: string[]}
 *   KVTable         {table: {key: value}}
 *   DataVersion     {timestamp, counter}
 */

/** The broker id of a master; slaves have ids of 1 and up. */
export const MASTER_ID = 0;

/** The KV namespace that holds global ordered-topic layouts, `"brokerA:4;brokerB:4"` per topic. */
export const ORDER_TOPIC_CONFIG_NAMESPACE = 'ORDER_TOPIC_CONFIG';

/** One broker's queues of one topic. */
export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

/** One broker group (a master and its slaves) in one cluster. */
export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** broker id (as a decimal string, the way JSON object keys are) → "ip:port". */
  brokerAddrs: Record<string, string>;
}

/** The answer to GET_ROUTEINFO_BY_TOPIC. */
export interface TopicRouteData {
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Record<string, string[]>;
}

/** The answer to GET_BROKER_CLUSTER_INFO. */
export interface ClusterInfo {
  brokerAddrTable: Record<string, BrokerData>;
  clusterAddrTable: Record<string, string[]>;
}

/** A broker's topic-config version; equal versions mean an unchanged topic table. */
export interface DataVersion {
  timestamp: number;
  counter: number;
}

/** One topic as a broker reports it in its registration. */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
  order: boolean;
}

/** True when two data versions name the same topic table (`DataVersion.equals`). */
export function sameDataVersion(a: DataVersion | undefined, b: DataVersion | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return a.timestamp === b.timestamp && a.counter === b.counter;
}

/** Serialize a value as the JSON body of a command. */
export function jsonBody(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
