/**
 * Send-latency fault tolerance (RocketMQ 5.1.4+ `MQFaultStrategy` / `LatencyFaultToleranceImpl`),
 * used when `sendLatencyFaultEnable` is on. Each send's latency marks its broker name
 * unavailable for a while (slow answers briefly, failures for 10 s); queue choice then prefers
 * brokers that are available and not the one that just failed. A detector probes unreachable
 * brokers so one that answers again is restored before its time runs out.
 */

/** Latency thresholds (ms) and how long a broker past each is avoided (ms): RocketMQ 5.1.4+. */
export const LATENCY_MAX = [50, 100, 550, 1800, 3000, 5000, 15000] as const;
export const NOT_AVAILABLE_DURATION = [0, 0, 2000, 5000, 6000, 10000, 30000] as const;
/** A failed send counts as this latency (→ 10 s unavailable). */
export const ISOLATION_LATENCY = 10_000;

interface FaultItem {
  brokerName: string;
  latency: number;
  startTimestamp: number;
  reachable: boolean;
}

export class LatencyFaultTolerance {
  private readonly items = new Map<string, FaultItem>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Record a send: its latency, or that it failed (isolation). */
  update(brokerName: string, latencyMillis: number, isolation: boolean): void {
    const latency = isolation ? ISOLATION_LATENCY : latencyMillis;
    let duration = 0;
    for (let i = LATENCY_MAX.length - 1; i >= 0; i--) {
      if (latency >= LATENCY_MAX[i]!) {
        duration = NOT_AVAILABLE_DURATION[i]!;
        break;
      }
    }
    this.items.set(brokerName, { brokerName, latency, startTimestamp: this.clock() + duration, reachable: !isolation });
  }

  /** Whether a broker may be chosen now. */
  isAvailable(brokerName: string): boolean {
    const item = this.items.get(brokerName);
    return !item || this.clock() >= item.startTimestamp;
  }

  /** Whether the last contact with a broker reached it. */
  isReachable(brokerName: string): boolean {
    return this.items.get(brokerName)?.reachable ?? true;
  }

  /** Brokers marked unreachable, for the detector to probe. */
  unreachable(): string[] {
    return [...this.items.values()].filter((i) => !i.reachable).map((i) => i.brokerName);
  }

  /** A probe answered: the broker is usable again at once. */
  restore(brokerName: string): void {
    this.items.delete(brokerName);
  }
}
