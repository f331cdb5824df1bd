/**
 * The body of REGISTER_BROKER (103): RocketMQ 4.x's `RegisterBrokerBody` as JSON.
 *
 *   {
 *     "topicConfigSerializeWrapper": {
 *       "topicConfigTable": { "<topic>": { "topicName", "readQueueNums", "writeQueueNums", "perm",
 *                                          "topicFilterType", "topicSysFlag", "order", "attributes"? } },
 *       "dataVersion": { "timestamp", "counter", "stateVersion"? }
 *     },
 *     "filterServerList": [ "ip:port", ... ]
 *   }
 *
 * Brokers older than 3.0.11 sent the bare `TopicConfigSerializeWrapper`; we accept that too. The
 * compressed form (header `compressed=true`, a deflated binary layout) is refused with a remark that
 * says to register uncompressed. Decoding checks the whole body before anything is applied, so a bad
 * registration changes nothing.
 */
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { InvalidArgumentError, MAX_TOPIC_QUEUE_NUMS } from '@karman/protocol';
import { topicNameProblem } from './names.js';
import type { DataVersion, TopicConfig } from './route-data.js';

const INT32_MAX = 0x7fffffff;
const dataVersionSchema = z.looseObject({
  timestamp: z.number().int().min(0),
  counter: z.number().int().min(0),
});

// Entries are checked by `readTopicConfig` rather than zod: a broker may list 100,000 topics, and
// zod's per-entry parse took seconds for that (measured), stalling every other request meanwhile.
const wrapperSchema = z.looseObject({
  topicConfigTable: z.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    'must be an object of topic name → TopicConfig',
  ),
  dataVersion: dataVersionSchema,
});

/** Most filter servers one registration may list. */
const MAX_FILTER_SERVERS = 64;

const bodySchema = z.looseObject({
  topicConfigSerializeWrapper: wrapperSchema,
  // Filter servers are "host:port" addresses, a few per broker; the list is kept per broker address.
  filterServerList: z.array(z.string().max(256)).max(MAX_FILTER_SERVERS).optional(),
});

/** A decoded registration: the broker's topics, their version, and its filter servers. */
export interface RegisterBrokerBody {
  topicConfigs: TopicConfig[];
  dataVersion: DataVersion;
  filterServerList: string[];
  /**
   * Entries left out, each "topic: problem": a bad name or field in one entry costs that entry,
   * not the broker's whole registration (every other topic would leave the routes with it).
   */
  skipped: string[];
}

/** What a registration without a body means in RocketMQ: no topics, version 0/0. */
export function emptyRegisterBrokerBody(): RegisterBrokerBody {
  return { topicConfigs: [], dataVersion: { timestamp: 0, counter: 0 }, filterServerList: [], skipped: [] };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map(String).join('.');
  return `${path || '(root)'}: ${issue.message}`;
}

/** Options that change how a body is read. */
export interface DecodeRegisterBrokerBodyOptions {
  /** The `compressed` header flag; compressed bodies are refused. */
  compressed?: boolean;
  /** The `bodyCrc32` header; when non-zero it must match the body, as RocketMQ's `checkSumCrc32` requires. */
  bodyCrc32?: number;
}

/**
 * Decode and check a REGISTER_BROKER body. Throws `InvalidArgumentError` naming the first thing
 * wrong (the JSON path and the rule) when the body is not a topic-config table.
 */
export function decodeRegisterBrokerBody(body: Uint8Array | undefined, options: DecodeRegisterBrokerBodyOptions = {}): RegisterBrokerBody {
  if (body === undefined || body.length === 0) return emptyRegisterBrokerBody();
  if (options.compressed) {
    throw new InvalidArgumentError('compressed REGISTER_BROKER bodies are not supported by this nameserver; register with compressed=false (RocketMQ: compressedRegister=false)');
  }
  if (options.bodyCrc32 !== undefined && options.bodyCrc32 !== 0) {
    // RocketMQ's UtilAll.crc32 keeps the low 31 bits.
    const actual = crc32(body) & 0x7fffffff;
    if (actual !== options.bodyCrc32) {
      throw new InvalidArgumentError(`REGISTER_BROKER body crc32 ${actual} does not match header bodyCrc32 ${options.bodyCrc32}; the body was corrupted or the header is wrong`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('REGISTER_BROKER body is not JSON; expected RegisterBrokerBody {topicConfigSerializeWrapper:{topicConfigTable, dataVersion}, filterServerList}');
  }
  // Pre-3.0.11 brokers sent the wrapper itself.
  const isBareWrapper = typeof json === 'object' && json !== null && 'topicConfigTable' in json && !('topicConfigSerializeWrapper' in json);
  const parsed = isBareWrapper ? wrapperSchema.safeParse(json) : bodySchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidArgumentError(
      `REGISTER_BROKER body is not a topic-config table (${describeIssue(parsed.error)}); expected RegisterBrokerBody {topicConfigSerializeWrapper:{topicConfigTable:{topic:{readQueueNums, writeQueueNums, perm, ...}}, dataVersion:{timestamp, counter}}, filterServerList:[]}`,
    );
  }
  const wrapper = isBareWrapper ? (parsed.data as z.infer<typeof wrapperSchema>) : (parsed.data as z.infer<typeof bodySchema>).topicConfigSerializeWrapper;
  const filterServerList = isBareWrapper ? [] : ((parsed.data as z.infer<typeof bodySchema>).filterServerList ?? []);
  const topicConfigs: TopicConfig[] = [];
  const skipped: string[] = [];
  for (const topic of Object.keys(wrapper.topicConfigTable)) {
    const read = readTopicConfig(topic, wrapper.topicConfigTable[topic]);
    if (typeof read === 'string') skipped.push(`${JSON.stringify(topic.slice(0, 60))}: ${read}`);
    else topicConfigs.push(read);
  }
  return {
    topicConfigs,
    dataVersion: { timestamp: wrapper.dataVersion.timestamp, counter: wrapper.dataVersion.counter },
    filterServerList,
    skipped,
  };
}

/** An entry's integer field, or the problem with it. */
function intField(config: Record<string, unknown>, field: string, max: number, required: boolean): number | string {
  const value = config[field];
  if (value === undefined && !required) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) return `${field} must be an integer from 0 to ${max}, got ${JSON.stringify(value)?.slice(0, 40)}`;
  return value;
}

/** Check one topicConfigTable entry (TopicConfig.java's fields) and its name: the config, or why it is left out. */
function readTopicConfig(topic: string, value: unknown): TopicConfig | string {
  const problem = topicNameProblem(topic);
  if (problem) return problem;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the entry is not a TopicConfig object';
  const config = value as Record<string, unknown>;
  if (config.topicName !== undefined && config.topicName !== topic) return `its topicName is ${JSON.stringify(String(config.topicName).slice(0, 40))}; they must be equal`;
  if (config.order !== undefined && typeof config.order !== 'boolean') return 'order must be true or false';
  const fields = {
    readQueueNums: intField(config, 'readQueueNums', MAX_TOPIC_QUEUE_NUMS, true),
    writeQueueNums: intField(config, 'writeQueueNums', MAX_TOPIC_QUEUE_NUMS, true),
    perm: intField(config, 'perm', 15, true),
    topicSysFlag: intField(config, 'topicSysFlag', INT32_MAX, false),
  };
  for (const field of Object.values(fields)) if (typeof field === 'string') return field;
  return { topicName: topic, ...(fields as Record<keyof typeof fields, number>), order: config.order === true };
}

/** Encode a registration body the way a RocketMQ 4.x broker does (uncompressed). Used by tests, benchmarks and Karman's broker. */
export function encodeRegisterBrokerBody(topicConfigs: readonly TopicConfig[], dataVersion: DataVersion, filterServerList: readonly string[] = []): Uint8Array {
  const topicConfigTable: Record<string, unknown> = {};
  for (const c of topicConfigs) {
    topicConfigTable[c.topicName] = {
      topicName: c.topicName,
      readQueueNums: c.readQueueNums,
      writeQueueNums: c.writeQueueNums,
      perm: c.perm,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: c.topicSysFlag,
      order: c.order,
    };
  }
  return Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable, dataVersion }, filterServerList }), 'utf8');
}
