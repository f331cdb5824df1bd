/**
 * The bridge between a push consumer's handler calls and its `messages()` async iterator: each
 * handler call parks its message until the loop takes it, and resolves when the loop asks for the
 * next one (consumed) or ends (not consumed, so the offset stays and the message comes again).
 */
import { KarmanError } from '@karman/protocol';
import type { ConsumedMessage } from './consumed-message.js';
import { ConsumeResult } from './consumer-options.js';

export class MessageChannel {
  private readonly waiting: Array<{ message: ConsumedMessage; settle: (ok: boolean) => void }> = [];
  private readonly takers: Array<(item: { message: ConsumedMessage; settle: (ok: boolean) => void } | undefined) => void> = [];
  private inHand: ((ok: boolean) => void) | undefined;
  private closed = false;

  constructor(private readonly onReturn: () => Promise<void>) {}

  /** Called as the handler: resolves when the loop is done with the message. */
  async push(message: ConsumedMessage): Promise<ConsumeResult> {
    if (this.closed) throw new KarmanError('CONSUMER_SHUT_DOWN', 'the message loop has ended');
    const ok = await new Promise<boolean>((settle) => {
      const taker = this.takers.shift();
      if (taker) taker({ message, settle });
      else this.waiting.push({ message, settle });
    });
    if (!ok) throw new KarmanError('CONSUMER_SHUT_DOWN', 'the message loop ended before this message was consumed');
    return ConsumeResult.CONSUME_SUCCESS;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inHand?.(false);
    this.inHand = undefined;
    for (const w of this.waiting.splice(0)) w.settle(false);
    for (const t of this.takers.splice(0)) t(undefined);
  }

  iterator(startup: Promise<void>): AsyncIterator<ConsumedMessage> {
    return {
      next: async () => {
        await startup;
        this.inHand?.(true);
        this.inHand = undefined;
        if (this.closed) return { done: true, value: undefined };
        const item = this.waiting.shift() ?? (await new Promise<{ message: ConsumedMessage; settle: (ok: boolean) => void } | undefined>((resolve) => this.takers.push(resolve)));
        if (!item) return { done: true, value: undefined };
        this.inHand = item.settle;
        return { done: false, value: item.message };
      },
      return: async () => {
        this.close();
        await this.onReturn();
        return { done: true, value: undefined };
      },
    };
  }
}
