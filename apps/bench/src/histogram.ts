/**
 * A latency histogram with bounded memory, in whole microseconds, laid out like HdrHistogram's
 * log-linear buckets: values below 2^SUB_BITS (256 µs) each have their own bucket; above that every
 * power of two is split into 128 equal buckets, so a bucket is at most 1/128 (0.8 %) of its value
 * wide. Values up to 2^32 − 1 µs (71 minutes) fit; larger ones are clamped there and counted in
 * `clamped`. 3,328 counters (26 KiB) whatever the number of samples, so a benchmark that runs until
 * Ctrl-C never grows. Exact count, sum, min and max are kept beside the buckets.
 *
 * A percentile answers the highest value of the bucket holding that rank (as HdrHistogram's
 * `highestEquivalentValue`), capped at the exact maximum: never below the true percentile, at most
 * 0.8 % above it.
 */

/** Linear buckets below 2^SUB_BITS; each power of two above has 2^(SUB_BITS − 1) buckets. */
const SUB_BITS = 8;
const LINEAR = 1 << SUB_BITS; // 256
const HALF = LINEAR >> 1; // 128
/** Powers of two from 2^8 to 2^31 inclusive. */
const OCTAVES = 32 - SUB_BITS;
const BUCKETS = LINEAR + OCTAVES * HALF;
/** Largest value recorded as itself, µs. */
export const HISTOGRAM_MAX_MICROS = 2 ** 32 - 1;

/** Percentiles and extremes of a histogram, µs (0 when empty). */
export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function bucketOf(value: number): number {
  if (value < LINEAR) return value;
  const log2 = 31 - Math.clz32(value); // ≥ SUB_BITS
  const shift = log2 - (SUB_BITS - 1);
  return LINEAR + (log2 - SUB_BITS) * HALF + ((value >>> shift) - HALF);
}

/** The highest value that lands in bucket `index`. */
function bucketHigh(index: number): number {
  if (index < LINEAR) return index;
  const octave = Math.floor((index - LINEAR) / HALF);
  const sub = (index - LINEAR) % HALF;
  const shift = octave + 1; // log2 − (SUB_BITS − 1) with log2 = octave + SUB_BITS
  return ((HALF + sub + 1) * 2 ** shift) - 1;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private minValue = Infinity;
  private maxValue = 0;
  /** Samples above HISTOGRAM_MAX_MICROS, recorded as that maximum. */
  clamped = 0;

  /** Record one latency in microseconds; fractions are rounded, negatives (clock steps) count as 0. */
  record(micros: number): void {
    let value = Number.isFinite(micros) ? Math.round(micros) : HISTOGRAM_MAX_MICROS;
    if (value < 0) value = 0;
    if (value > HISTOGRAM_MAX_MICROS) {
      value = HISTOGRAM_MAX_MICROS;
      this.clamped++;
    }
    this.counts[bucketOf(value)]! += 1;
    this.total++;
    this.sum += value;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
  }

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxValue;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minValue;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /** The value at percentile `p` (0–100], µs; 0 for an empty histogram. */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.max(this.minValue, Math.min(bucketHigh(i), this.maxValue));
    }
    return this.maxValue;
  }

  /** Add another histogram's samples to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    this.clamped += other.clamped;
    if (other.total > 0) {
      this.minValue = Math.min(this.minValue, other.minValue);
      this.maxValue = Math.max(this.maxValue, other.maxValue);
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.minValue = Infinity;
    this.maxValue = 0;
    this.clamped = 0;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      mean: Math.round(this.mean * 10) / 10,
      min: this.min,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.maxValue,
    };
  }
}
