import { describe, expect, it } from 'vitest';
import type { HeldPullRequest } from './pull-request-hold-service.js';
import { PullRequestHoldService } from './pull-request-hold-service.js';

function request(overrides: Partial<HeldPullRequest> & { log: string[]; name: string }): HeldPullRequest {
  const { log, name, ...rest } = overrides;
  return { topic: 'T', queueId: 0, offset: 5, tagCodes: undefined, deadline: 1_000, channelId: 1, execute: () => log.push(name), ...rest };
}

describe('PullRequestHoldService', () => {
  it('wakes a held pull when a matching message arrives at or after its offset', () => {
    const log: string[] = [];
    const s = new PullRequestHoldService({ checkInterval: 5_000, maxHeld: 10, maxOffset: () => 5, clock: () => 0 });
    s.hold(request({ log, name: 'a' }));
    s.hold(request({ log, name: 'tagged', tagCodes: new Set([65]) }));
    s.hold(request({ log, name: 'other-queue', queueId: 1 }));
    s.arriving('T', 0, 4, 66);
    expect(log).toEqual([]);
    s.arriving('T', 0, 5, 66);
    expect(log).toEqual(['a']);
    s.arriving('T', 0, 6, 65);
    expect(log).toEqual(['a', 'tagged']);
    expect(s.size).toBe(1);
  });

  it('answers requests whose deadline passed, and on a full check those whose queue grew', () => {
    const log: string[] = [];
    let now = 0;
    let max = 5;
    const s = new PullRequestHoldService({ checkInterval: 100, maxHeld: 10, maxOffset: () => max, clock: () => now });
    s.hold(request({ log, name: 'short', deadline: 50 }));
    s.hold(request({ log, name: 'long', deadline: 10_000 }));
    now = 60;
    s.check();
    expect(log).toEqual(['short']);
    max = 6;
    now = 200;
    s.check();
    expect(log).toEqual(['short', 'long']);
  });

  it('refuses past its cap and forgets the requests of a closed connection', () => {
    const log: string[] = [];
    const s = new PullRequestHoldService({ checkInterval: 100, maxHeld: 2, maxOffset: () => 0 });
    expect(s.hold(request({ log, name: 'a', channelId: 7 }))).toBe(true);
    expect(s.hold(request({ log, name: 'b', channelId: 7 }))).toBe(true);
    expect(s.hold(request({ log, name: 'c', channelId: 8 }))).toBe(false);
    s.dropChannel(7);
    expect(s.size).toBe(0);
    s.arriving('T', 0, 10, 0);
    expect(log).toEqual([]);
  });

  it('answers everything still held when stopped', () => {
    const log: string[] = [];
    const s = new PullRequestHoldService({ checkInterval: 100, maxHeld: 5, maxOffset: () => 0 });
    s.hold(request({ log, name: 'a' }));
    s.stop();
    expect(log).toEqual(['a']);
  });
});
