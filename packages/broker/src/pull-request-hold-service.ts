/**
 * Long polling (RocketMQ `PullRequestHoldService`): a pull that finds nothing and may be
 * suspended is parked under "topic@queueId" until a matching message arrives (the store's arrival
 * events call `arriving`), a periodic check finds the queue has grown, or its suspend time ends.
 * Either way the request is re-executed once with suspension off, so it answers (found, or
 * PULL_NOT_FOUND) rather than parking again.
 *
 * Memory is bounded: at most `maxHeld` requests wait at once (past that, `hold` refuses and the
 * caller answers at once), and `dropChannel` forgets every request of a vanished connection.
 */

export interface HeldPullRequest {
  topic: string;
  queueId: number;
  /** The offset the consumer asked for: any arrival at or after it may satisfy the request. */
  offset: number;
  /** Tag codes the subscription accepts; undefined accepts every message. */
  tagCodes: ReadonlySet<number> | undefined;
  /** Absolute time (clock ms) after which the request is answered with whatever is there. */
  deadline: number;
  /** Connection the request came on, so it can be forgotten when that closes. */
  channelId: number;
  /** Answer the request by running the pull again without suspension. */
  execute(): void;
}

export interface PullRequestHoldServiceOptions {
  /** How often held requests are re-checked besides arrival wake-ups (5 s). */
  checkInterval: number;
  /** Most requests held at once. */
  maxHeld: number;
  /** The queue's current max offset (next offset to be written). */
  maxOffset(topic: string, queueId: number): number;
  clock?: () => number;
}

export class PullRequestHoldService {
  private readonly held = new Map<string, Set<HeldPullRequest>>();
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: PullRequestHoldServiceOptions) {
    this.clock = options.clock ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), Math.min(this.options.checkInterval, 1_000));
    this.timer.unref();
  }

  /** Stop checking and answer everything still held. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const all = [...this.held.values()].flatMap((set) => [...set]);
    this.held.clear();
    this.count = 0;
    for (const request of all) request.execute();
  }

  /** Number of requests currently held. */
  get size(): number {
    return this.count;
  }

  /** Park a request; false when the cap is reached (the caller should answer at once). */
  hold(request: HeldPullRequest): boolean {
    if (this.count >= this.options.maxHeld) return false;
    const key = `${request.topic}@${request.queueId}`;
    let set = this.held.get(key);
    if (!set) this.held.set(key, (set = new Set()));
    set.add(request);
    this.count++;
    return true;
  }

  /**
   * A message was dispatched: wake the requests on that queue waiting at or before its offset whose
   * filter accepts its tag code.
   */
  arriving(topic: string, queueId: number, logicOffset: number, tagsCode: number): void {
    const key = `${topic}@${queueId}`;
    const set = this.held.get(key);
    if (!set) return;
    for (const request of set) {
      if (logicOffset >= request.offset && (!request.tagCodes || request.tagCodes.has(tagsCode))) this.release(key, set, request);
    }
  }

  /** Forget (without answering) every request of a closed connection. */
  dropChannel(channelId: number): void {
    for (const [key, set] of this.held) {
      for (const request of set) {
        if (request.channelId !== channelId) continue;
        set.delete(request);
        this.count--;
      }
      if (set.size === 0) this.held.delete(key);
    }
  }

  private lastFullCheck = 0;

  /**
   * Answer requests past their deadline; every `checkInterval`, also those whose queue grew (a
   * missed or filtered wake-up).
   */
  check(): void {
    const now = this.clock();
    const full = now - this.lastFullCheck >= this.options.checkInterval;
    if (full) this.lastFullCheck = now;
    for (const [key, set] of this.held) {
      let maxOffset: number | undefined;
      for (const request of set) {
        if (request.deadline <= now) {
          this.release(key, set, request);
          continue;
        }
        if (!full) continue;
        maxOffset ??= this.options.maxOffset(request.topic, request.queueId);
        if (maxOffset > request.offset) this.release(key, set, request);
      }
    }
  }

  private release(key: string, set: Set<HeldPullRequest>, request: HeldPullRequest): void {
    set.delete(request);
    this.count--;
    if (set.size === 0) this.held.delete(key);
    request.execute();
  }
}
