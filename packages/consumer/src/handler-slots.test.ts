import { describe, expect, it } from 'vitest';
import { HandlerSlots } from './handler-slots.js';

describe('HandlerSlots', () => {
  it('runs work at once while a slot is free, and a synchronous finish frees it for the next', () => {
    const ran: number[] = [];
    const slots = new HandlerSlots<string, number>(1, (_entry, n, done) => {
      ran.push(n);
      done();
    });
    for (let i = 0; i < 5_000; i++) slots.run('q', i);
    expect(ran).toHaveLength(5_000);
    expect(ran.at(-1)).toBe(4_999);
    expect(slots.waitingCount).toBe(0);
  });

  it('holds work beyond the limit and starts it first come, first served as slots come back', () => {
    const running: Array<() => void> = [];
    const started: number[] = [];
    const slots = new HandlerSlots<string, number>(2, (_entry, n, done) => {
      started.push(n);
      running.push(done);
    });
    for (let i = 0; i < 5; i++) slots.run('q', i);
    expect(started).toEqual([0, 1]);
    expect(slots.waitingCount).toBe(3);
    running.shift()!();
    expect(started).toEqual([0, 1, 2]);
    running.shift()!();
    running.shift()!();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(slots.waitingCount).toBe(0);
  });

  it('shares the limit between run() and acquire(), and calls onDone after the slot is back', async () => {
    const running: Array<() => void> = [];
    const slots = new HandlerSlots<string, number>(1, (_entry, _n, done) => running.push(done));
    await slots.acquire();
    let finished = false;
    slots.run('q', 1, () => (finished = true));
    expect(running).toHaveLength(0);
    slots.release();
    expect(running).toHaveLength(1);
    let acquired = false;
    const waiting = slots.acquire().then(() => (acquired = true));
    running[0]!();
    expect(finished).toBe(true);
    await waiting;
    expect(acquired).toBe(true);
  });
});
