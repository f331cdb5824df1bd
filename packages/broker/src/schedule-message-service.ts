import type { BrokerContext } from './broker-context.js';

/** Delivers delay-level messages from SCHEDULE_TOPIC_XXXX to their real topic when due. */
export class ScheduleMessageService {
  constructor(
    readonly context: BrokerContext,
    readonly file: string,
  ) {}
  start(): void {}
  async stop(): Promise<void> {}
}
