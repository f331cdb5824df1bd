/**
 * Store integrity commands (Karman's own; RocketMQ's mqadmin has none): queryQuarantinedMsg lists
 * the commit-log records a broker's store quarantined (damaged bytes with valid records after them,
 * skipped instead of truncating the log: see the commitlog package README), and scrubStore checks
 * every record and consume-queue unit of a store, either through a running broker (-b) or offline
 * on the store folder of a stopped one (--store), and reports what it checked and found.
 */
import { InvalidArgumentError, RequestCode } from '@karman/protocol';
import { MessageStore } from '@karman/commitlog';
import type { QuarantinedRecord, ScrubReport } from '@karman/commitlog';
import { jsonOf } from './admin-client.js';
import { intFlag, stringFlag } from './command.js';
import type { Command, CommandContext } from './command.js';
import { formatTime, keyValues, table } from './table.js';

/** How long scrubStore -b waits for the broker's answer by default (a scrub reads the whole log). */
const SCRUB_TIMEOUT_MILLIS = 3_600_000;

interface QuarantineAnswer {
  quarantinedTotal: number;
  records: QuarantinedRecord[];
}

function brokerAddr(context: CommandContext): string {
  const address = stringFlag(context, 'brokerAddr');
  if (!address) throw new InvalidArgumentError('give -b BROKER_ADDR (host:port)');
  return address;
}

const queryQuarantinedMsg: Command = {
  name: 'queryQuarantinedMsg',
  summary: "List the commit-log records a broker's store quarantined: damaged, never served, the records after them kept.",
  example: 'karman-admin queryQuarantinedMsg -n 127.0.0.1:9876 -b 127.0.0.1:10911',
  flags: [{ long: 'brokerAddr', short: 'b', type: 'string', description: 'Broker address (host:port).', required: true }],
  async run(context) {
    const answer = jsonOf(await context.admin.call(brokerAddr(context), RequestCode.GET_QUARANTINED_RECORDS.code)) as QuarantineAnswer;
    const rows = answer.records.map((r) => [
      r.offset,
      r.size,
      r.topic === undefined ? '-' : `${r.topic}/${r.queueId}@${r.queueOffset}`,
      r.detectedBy,
      formatTime(r.detectedAt),
      r.reason,
    ]);
    const text = `${table(['CommitLogOffset', 'Size', 'Queue', 'FoundBy', 'FoundAt', 'Reason'], rows)}quarantined since the store was created: ${answer.quarantinedTotal}\n`;
    return { text, value: answer };
  },
};

const scrubStore: Command = {
  name: 'scrubStore',
  summary: 'Check every commit-log record (body CRC included) and consume-queue unit of a store: damaged records are quarantined, wrong units rebuilt.',
  example: 'karman-admin scrubStore -n 127.0.0.1:9876 -b 127.0.0.1:10911   (or, broker stopped: karman-admin scrubStore --store /var/lib/karman/store)',
  flags: [
    { long: 'brokerAddr', short: 'b', type: 'string', description: 'Scrub the store of this running broker (host:port).' },
    { long: 'store', type: 'string', description: 'Scrub this store folder (storePathRootDir) of a stopped broker, without a nameserver.' },
    { long: 'mappedFileSizeCommitLog', type: 'string', description: 'With --store: the commit-log segment size the store was written with.', defaultText: '1073741824' },
    { long: 'mappedFileSizeConsumeQueue', type: 'string', description: 'With --store: the consume-queue file size the store was written with.', defaultText: '6000000' },
    { long: 'timeoutMillis', type: 'string', description: 'With -b: how long to wait for the broker to finish.', defaultText: String(SCRUB_TIMEOUT_MILLIS) },
  ],
  offline: (flags) => typeof flags.store === 'string' && flags.store !== '',
  async run(context) {
    const dir = stringFlag(context, 'store');
    if (dir !== undefined && stringFlag(context, 'brokerAddr') !== undefined) throw new InvalidArgumentError('give either -b (a running broker) or --store (a stopped broker\'s folder), not both');
    let report: ScrubReport;
    if (dir !== undefined) {
      // Opening recovers the store as the broker would; the lock refuses a folder a broker has open.
      const store = await MessageStore.open({
        storePathRootDir: dir,
        mappedFileSizeCommitLog: intFlag(context, 'mappedFileSizeCommitLog', 1024 * 1024 * 1024, 4096),
        mappedFileSizeConsumeQueue: intFlag(context, 'mappedFileSizeConsumeQueue', 6_000_000, 20),
        cleanResourceInterval: 0,
        logger: (level, message) => {
          if (level !== 'info') context.warn(message);
        },
      });
      try {
        report = await store.scrub();
      } finally {
        await store.close();
      }
    } else {
      const timeout = intFlag(context, 'timeoutMillis', SCRUB_TIMEOUT_MILLIS, 1);
      report = jsonOf(await context.admin.call(brokerAddr(context), RequestCode.SCRUB_STORE.code, {}, undefined, timeout)) as ScrubReport;
    }
    const text = keyValues({
      commitLogRange: `${report.from}..${report.to}`,
      bytesChecked: report.bytesChecked,
      recordsChecked: report.recordsChecked,
      damaged: report.damaged,
      newlyQuarantined: report.newlyQuarantined,
      quarantined: report.quarantinedTotal,
      unitsChecked: report.unitsChecked,
      unitsRepaired: report.unitsRepaired,
      durationMs: Math.round(report.durationMs),
      'speed(MB/s)': report.mbPerSecond.toFixed(1),
      ...(report.aborted ? { aborted: true } : {}),
    });
    return { text, value: report, exitCode: report.damaged > 0 ? 1 : 0 };
  },
};

export const storeCommands: readonly Command[] = [queryQuarantinedMsg, scrubStore];
