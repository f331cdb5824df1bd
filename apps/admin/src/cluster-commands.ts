/**
 * Broker and nameserver commands ("NameServer", "HA"):
 * clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig, wipeWritePerm, addWritePerm,
 * updateKvConfig, getNamesrvConfig, haStatus.
 *
 * wipeWritePerm/addWritePerm and updateKvConfig change each nameserver's own tables, so they go to
 * every nameserver given with -n and report each one; one that refuses or cannot be reached makes
 * the exit code 1 while the others are still reported.
 */
import { RequestCode, parseProperties } from '@karman/protocol';
import type { ExtFieldValue, RemotingCommand } from '@karman/protocol';
import { expectSuccess, jsonOf, textOf } from './admin-client.js';
import type { AdminClient, BrokerMember } from './admin-client.js';
import { stringFlag } from './command.js';
import type { Command, CommandContext, CommandResult } from './command.js';
import { keyValues, table } from './table.js';

const brokerTargetFlags = [
  { long: 'brokerAddr', short: 'b', type: 'string', description: 'Broker address (host:port).' },
  { long: 'clusterName', short: 'c', type: 'string', description: 'Every broker of this cluster (masters only for updates).' },
] as const;

async function runtimeInfo(admin: AdminClient, address: string): Promise<Record<string, string>> {
  return ((jsonOf(await admin.call(address, RequestCode.GET_BROKER_RUNTIME_INFO.code)) as { table?: Record<string, string> }).table ?? {});
}

async function brokerConfig(admin: AdminClient, address: string): Promise<Record<string, string>> {
  return parseProperties(textOf(await admin.call(address, RequestCode.GET_BROKER_CONFIG.code)));
}

/** Addresses for read commands: -b, or every broker (masters and slaves) of -c. */
async function readTargets(context: CommandContext): Promise<string[]> {
  const cluster = stringFlag(context, 'clusterName');
  const brokerAddr = stringFlag(context, 'brokerAddr');
  if (cluster && !brokerAddr) {
    const members = (await context.admin.members()).filter((m) => m.cluster === cluster);
    if (members.length > 0) return members.map((m) => m.address);
  }
  return context.admin.targets({ brokerAddr, cluster });
}

/** Send to every nameserver and report each; `detail` picks what to print from a success. */
async function toEveryNameserver(
  context: CommandContext,
  code: number,
  fields: Record<string, ExtFieldValue | undefined>,
  describe: (address: string, response: RemotingCommand) => string,
): Promise<CommandResult> {
  const results = await context.admin.everyNameserver(code, fields);
  const lines: string[] = [];
  const value: Array<{ nameserver: string; ok: boolean; detail: string }> = [];
  for (const { address, response, error } of results) {
    let ok = false;
    let detail: string;
    try {
      if (error) throw error;
      detail = describe(address, expectSuccess(response!, address));
      ok = true;
    } catch (failure) {
      detail = (failure as Error).message;
    }
    lines.push(ok ? detail : `${address} FAILED: ${detail}`);
    value.push({ nameserver: address, ok, detail });
  }
  return { text: `${lines.join('\n')}\n`, value, exitCode: value.every((v) => v.ok) ? 0 : 1 };
}

const clusterList: Command = {
  name: 'clusterList',
  summary: 'Every broker of every cluster with its address, version, message rates and disk use.',
  example: 'karman-admin clusterList -n 127.0.0.1:9876',
  flags: [{ long: 'clusterName', short: 'c', type: 'string', description: 'Only this cluster.' }],
  async run(context) {
    const cluster = stringFlag(context, 'clusterName');
    const members = (await context.admin.members()).filter((m) => !cluster || m.cluster === cluster);
    const rows: Array<BrokerMember & { version: string; inTps: string; outTps: string; diskRatio: string; error?: string }> = [];
    for (const member of members) {
      try {
        const info = await runtimeInfo(context.admin, member.address);
        const ratio = Number(info.commitLogDiskRatio);
        rows.push({
          ...member,
          version: info.brokerVersionDesc ?? '-',
          inTps: (info.putTps ?? '0').split(' ')[0]!,
          outTps: (info.getTransferedTps ?? '0').split(' ')[0]!,
          diskRatio: Number.isFinite(ratio) && ratio >= 0 ? `${(ratio * 100).toFixed(2)}%` : '-',
        });
      } catch (error) {
        // One broker not answering must not hide the rest of the cluster.
        rows.push({ ...member, version: '-', inTps: '-', outTps: '-', diskRatio: '-', error: (error as Error).message });
      }
    }
    return {
      text: table(
        ['Cluster Name', 'Broker Name', 'BID', 'Addr', 'Version', 'InTPS', 'OutTPS', 'SPACE'],
        rows.map((r) => [r.cluster, r.brokerName, r.brokerId, r.address, r.error ? 'UNREACHABLE' : r.version, r.inTps, r.outTps, r.diskRatio]),
      ),
      value: rows,
    };
  },
};

const brokerStatus: Command = {
  name: 'brokerStatus',
  summary: "A broker's runtime table: message counts and rates, commit-log offsets, disk use, uptime.",
  example: 'karman-admin brokerStatus -n 127.0.0.1:9876 -b 127.0.0.1:10911',
  flags: brokerTargetFlags,
  async run(context) {
    const targets = await readTargets(context);
    const value: Record<string, Record<string, string>> = {};
    for (const address of targets) value[address] = await runtimeInfo(context.admin, address);
    const text = targets.length === 1 ? keyValues(value[targets[0]!]!) : targets.map((a) => `============ ${a} ============\n${keyValues(value[a]!)}`).join('\n');
    return { text, value: targets.length === 1 ? value[targets[0]!] : value };
  },
};

const getBrokerConfig: Command = {
  name: 'getBrokerConfig',
  summary: "Every option of a broker (or of a cluster's brokers) with its current value.",
  example: 'karman-admin getBrokerConfig -n 127.0.0.1:9876 -b 127.0.0.1:10911',
  flags: brokerTargetFlags,
  async run(context) {
    const targets = await readTargets(context);
    const value: Record<string, Record<string, string>> = {};
    for (const address of targets) value[address] = await brokerConfig(context.admin, address);
    const text = targets.map((a) => `============ ${a} ============\n${keyValues(value[a]!)}`).join('\n');
    return { text, value: targets.length === 1 ? value[targets[0]!] : value };
  },
};

const updateBrokerConfig: Command = {
  name: 'updateBrokerConfig',
  summary: 'Change one option of a running broker, or of every master of a cluster, until it restarts.',
  example: 'karman-admin updateBrokerConfig -n 127.0.0.1:9876 -b 127.0.0.1:10911 -k slaveReadEnable -v true',
  flags: [
    ...brokerTargetFlags,
    { long: 'key', short: 'k', type: 'string', description: 'Option name (see getBrokerConfig).', required: true },
    { long: 'value', short: 'v', type: 'string', description: 'New value.', required: true },
  ],
  async run(context) {
    const key = stringFlag(context, 'key', true);
    const value = stringFlag(context, 'value', true);
    const targets = await context.admin.targets({ brokerAddr: stringFlag(context, 'brokerAddr'), cluster: stringFlag(context, 'clusterName') });
    const body = Buffer.from(`${key}=${value}\n`, 'utf8');
    for (const address of targets) await context.admin.call(address, RequestCode.UPDATE_BROKER_CONFIG.code, {}, body);
    return { text: targets.map((a) => `update broker config success, ${a}\n`).join(''), value: { key, value, brokers: targets } };
  },
};

const wipeWritePerm: Command = {
  name: 'wipeWritePerm',
  summary: "Stop new sends to a broker group on every nameserver (drain it before maintenance).",
  example: 'karman-admin wipeWritePerm -n 127.0.0.1:9876 -b broker-a',
  flags: [{ long: 'brokerName', short: 'b', type: 'string', description: 'Broker name.', required: true }],
  async run(context) {
    const brokerName = stringFlag(context, 'brokerName', true);
    return toEveryNameserver(context, RequestCode.WIPE_WRITE_PERM_OF_BROKER.code, { brokerName }, (address, response) => `wipe write perm of broker[${brokerName}] in name server[${address}] OK, ${String(response.extFields.wipeTopicCount ?? 0)}`);
  },
};

const addWritePerm: Command = {
  name: 'addWritePerm',
  summary: "Let a broker group take sends again on every nameserver (undoes wipeWritePerm).",
  example: 'karman-admin addWritePerm -n 127.0.0.1:9876 -b broker-a',
  flags: [{ long: 'brokerName', short: 'b', type: 'string', description: 'Broker name.', required: true }],
  async run(context) {
    const brokerName = stringFlag(context, 'brokerName', true);
    return toEveryNameserver(context, RequestCode.ADD_WRITE_PERM_OF_BROKER.code, { brokerName }, (address, response) => `add write perm of broker[${brokerName}] in name server[${address}] OK, ${String(response.extFields.addTopicCount ?? 0)}`);
  },
};

const updateKvConfig: Command = {
  name: 'updateKvConfig',
  summary: 'Set a KV config entry (e.g. ORDER_TOPIC_CONFIG) on every nameserver.',
  example: 'karman-admin updateKvConfig -n 127.0.0.1:9876 -s ORDER_TOPIC_CONFIG -k OrderEvents -v broker-a:8',
  flags: [
    { long: 'namespace', short: 's', type: 'string', description: 'Namespace.', required: true },
    { long: 'key', short: 'k', type: 'string', description: 'Key.', required: true },
    { long: 'value', short: 'v', type: 'string', description: 'Value.', required: true },
  ],
  async run(context) {
    const namespace = stringFlag(context, 'namespace', true);
    const key = stringFlag(context, 'key', true);
    const value = stringFlag(context, 'value', true);
    return toEveryNameserver(context, RequestCode.PUT_KV_CONFIG.code, { namespace, key, value }, (address) => `update kv config [${namespace}] ${key}=${value} in name server[${address}] OK`);
  },
};

const getNamesrvConfig: Command = {
  name: 'getNamesrvConfig',
  summary: "Every nameserver's options with their current values.",
  example: 'karman-admin getNamesrvConfig -n 127.0.0.1:9876',
  flags: [],
  async run(context) {
    const value: Record<string, Record<string, string>> = {};
    for (const { address, response, error } of await context.admin.everyNameserver(RequestCode.GET_NAMESRV_CONFIG.code)) {
      if (error) throw error;
      value[address] = parseProperties(textOf(expectSuccess(response!, address)));
    }
    return { text: Object.entries(value).map(([a, v]) => `============ ${a} ============\n${keyValues(v)}`).join('\n'), value };
  },
};

interface SlaveState {
  slaveAddr: string;
  brokerId: number;
  ackOffset: number;
  lagBytes: number;
  lagSeconds: number;
}

/** One broker's replication as its runtime table tells it (`karmanReplication*` keys). */
interface HaRow {
  address: string;
  brokerName: string;
  brokerId: number;
  brokerRole: string;
  /** Master: the slaves connected to it. */
  slaves: SlaveState[];
  /** Slave: the master it copies from, whether the link is up, and how many bytes behind it is. */
  master: { address: string; connected: boolean; lagBytes: number } | null;
  /** One line for the table. */
  replication: string;
}

function haRow(address: string, config: Record<string, string>, info: Record<string, string>): HaRow {
  const base = { address, brokerName: config.brokerName ?? '-', brokerId: Number(config.brokerId ?? 0), brokerRole: config.brokerRole ?? '-' };
  if (info.karmanReplicationMasterAddr !== undefined) {
    const master = { address: info.karmanReplicationMasterAddr, connected: info.karmanReplicationConnected === 'true', lagBytes: Number(info.karmanReplicationLagBytes ?? 0) };
    const where = master.address || 'no master known yet';
    return { ...base, slaves: [], master, replication: `from ${where}, ${master.connected ? 'connected' : 'NOT connected'}, ${master.lagBytes} bytes behind` };
  }
  if (info.karmanReplicationSlaves !== undefined) {
    const slaves = JSON.parse(info.karmanReplicationSlaves) as SlaveState[];
    const replication = slaves.length === 0 ? 'no slave connected' : slaves.map((s) => `${s.slaveAddr} (id ${s.brokerId}) ${s.lagBytes} bytes / ${s.lagSeconds} s behind`).join('; ');
    return { ...base, slaves, master: null, replication };
  }
  // A broker without replication support reports neither.
  return { ...base, slaves: [], master: null, replication: 'no replication configured' };
}

const haStatus: Command = {
  name: 'haStatus',
  summary: 'Replication state of a broker or of every broker of a cluster: slaves of a master and their lag, or the master a slave copies from.',
  example: 'karman-admin haStatus -n 127.0.0.1:9876 -c DefaultCluster',
  flags: brokerTargetFlags,
  async run(context) {
    const targets = await readTargets(context);
    const rows: HaRow[] = [];
    for (const address of targets) rows.push(haRow(address, await brokerConfig(context.admin, address), await runtimeInfo(context.admin, address)));
    return { text: table(['Broker Addr', 'Broker Name', 'BID', 'Role', 'Replication'], rows.map((r) => [r.address, r.brokerName, r.brokerId, r.brokerRole, r.replication])), value: rows };
  },
};

export const clusterCommands: readonly Command[] = [clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig, wipeWritePerm, addWritePerm, updateKvConfig, getNamesrvConfig, haStatus];
