import { describe, expect, it } from 'vitest';
import { RebalanceService } from './rebalance-service.js';

describe('RebalanceService', () => {
  it('runs again after the minimum gap, not the interval, while a run reports it is not balanced yet', async () => {
    const runs: number[] = [];
    const results = [false, false, true];
    const started = Date.now();
    const service = new RebalanceService(
      async () => {
        runs.push(Date.now() - started);
        return results.shift() ?? true;
      },
      60_000,
      50,
    );
    await service.start();
    await new Promise((r) => setTimeout(r, 400));
    await service.stop();
    // Two unbalanced runs each bring the next one 50 ms later; the balanced third waits the 60 s interval.
    expect(runs).toHaveLength(3);
    expect(runs[2]! - runs[0]!).toBeLessThan(300);
  });
});
