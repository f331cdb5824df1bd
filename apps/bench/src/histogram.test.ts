import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HISTOGRAM_MAX_MICROS, Histogram } from './histogram.js';

/** The exact percentile by the same rank rule: the ceil(p·n)-th smallest sample. */
function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

describe('Histogram', () => {
  it('answers zeros when empty', () => {
    const h = new Histogram();
    expect(h.summary()).toEqual({ count: 0, mean: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it('is exact below 256 µs', () => {
    const h = new Histogram();
    for (let v = 1; v <= 200; v++) h.record(v);
    expect(h.percentile(50)).toBe(100);
    expect(h.percentile(99)).toBe(198);
    expect(h.percentile(99.9)).toBe(200);
    expect(h.percentile(100)).toBe(200);
    expect(h.min).toBe(1);
    expect(h.mean).toBe(100.5);
  });

  it('gives percentiles of 1..100,000 µs within 0.8 % and never below the true value', () => {
    const h = new Histogram();
    const values = Array.from({ length: 100_000 }, (_, i) => i + 1);
    for (const v of values) h.record(v);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, p);
      expect(h.percentile(p)).toBeGreaterThanOrEqual(exact);
      expect(h.percentile(p)).toBeLessThanOrEqual(exact * 1.008);
    }
    expect(h.max).toBe(100_000);
    expect(h.percentile(100)).toBe(100_000);
  });

  it('keeps the 0.8 % bound for any samples (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: HISTOGRAM_MAX_MICROS }), { minLength: 1, maxLength: 300 }), fc.constantFrom(1, 50, 90, 99, 99.9, 100), (samples, p) => {
        const h = new Histogram();
        for (const s of samples) h.record(s);
        const exact = exactPercentile([...samples].sort((a, b) => a - b), p);
        const got = h.percentile(p);
        expect(got).toBeGreaterThanOrEqual(exact);
        expect(got).toBeLessThanOrEqual(Math.max(exact * 1.008, exact + 1));
      }),
    );
  });

  it('rounds fractions, clamps negatives to 0 and huge values to the maximum', () => {
    const h = new Histogram();
    h.record(0.4);
    h.record(-5);
    h.record(1e12);
    expect(h.min).toBe(0);
    expect(h.max).toBe(HISTOGRAM_MAX_MICROS);
    expect(h.clamped).toBe(1);
    expect(h.count).toBe(3);
  });

  it('merges and resets', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let v = 1; v <= 50; v++) a.record(v);
    for (let v = 51; v <= 100; v++) b.record(v);
    a.merge(b);
    expect(a.count).toBe(100);
    expect(a.percentile(50)).toBe(50);
    expect(a.max).toBe(100);
    a.reset();
    expect(a.count).toBe(0);
    expect(a.percentile(99)).toBe(0);
  });

  it('refuses a percentile outside (0, 100]', () => {
    expect(() => new Histogram().percentile(0)).toThrow(/percentile must be in/);
    expect(() => new Histogram().percentile(101)).toThrow(/percentile must be in/);
  });
});
