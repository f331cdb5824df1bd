/**
 * Field types of RocketMQ's command headers (`extFields`), as zod schemas that coerce.
 *
 * Java clients send every value as a string ("12", "true"); ali-ons and other JavaScript clients
 * send raw numbers and booleans. Each field type here accepts both forms and yields the JavaScript
 * value, and refuses anything Java's own `Integer.parseInt` / `Long.parseLong` would refuse, so a
 * header we accept is one a RocketMQ broker would have accepted too. Failure messages are written
 * to follow `field "<name>" ` in a remark, e.g. `must be an integer, got "abc"`.
 */
import { z } from 'zod';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** What `Integer.parseInt` / `Long.parseLong` accept: an optional sign, then decimal digits. */
const DECIMAL = /^[+-]?\d+$/;

/** A value as a short quoted snippet for an error message, so a megabyte of junk stays out of logs. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

type Refinement = z.core.$RefinementCtx;

/** Record the problem; the transform then returns `z.NEVER` so zod reports the issue. */
function fail(ctx: Refinement, message: string): void {
  ctx.addIssue({ code: 'custom', message });
}

/** A JSON `null` is how some clients write an unset field: it counts as absent. */
function present(value: unknown, ctx: Refinement): boolean {
  if (value !== undefined && value !== null) return true;
  fail(ctx, 'is required');
  return false;
}

function integer(value: unknown, ctx: Refinement, min: number, max: number, kind: string): number {
  const decimal = typeof value === 'string' && DECIMAL.test(value);
  const n = typeof value === 'number' ? value : decimal ? Number(value) : Number.NaN;
  // A decimal string too long for a double reads as Infinity: that is a range problem, not a type one.
  if (!decimal && !Number.isInteger(n)) {
    fail(ctx, `must be ${kind}, got ${show(value)}`);
    return z.NEVER;
  }
  if (!(n >= min && n <= max)) {
    fail(ctx, `must be ${kind} between ${min} and ${max}, got ${show(value)}`);
    return z.NEVER;
  }
  // Number("-0") is -0; keep the wire's 0 a plain 0.
  return n === 0 ? 0 : n;
}

/** A Java `Integer` field: a 32-bit signed integer, as a number or a decimal string. Required. */
export function intField() {
  return z.unknown().transform((value, ctx) => (present(value, ctx) ? integer(value, ctx, INT32_MIN, INT32_MAX, 'an integer') : z.NEVER));
}

const JAVA_LONG_MIN = -(2n ** 63n);
const JAVA_LONG_MAX = 2n ** 63n - 1n;

/**
 * A Java `Long` bounding a time range (QUERY_MESSAGE's begin and end), where clients send
 * `Long.MAX_VALUE` for "no end" (RocketMQ's `queryMessageByUniqKey`). Any Java long is accepted;
 * one beyond what a JavaScript number holds exactly reads as ±`Number.MAX_SAFE_INTEGER`, which lies
 * past every millisecond timestamp anyway. Required.
 */
export function timeBoundField() {
  return z.unknown().transform((value, ctx) => {
    if (!present(value, ctx)) return z.NEVER;
    const long = typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : typeof value === 'string' && DECIMAL.test(value) ? BigInt(value) : undefined;
    if (long === undefined) {
      fail(ctx, `must be an integer, got ${show(value)}`);
      return z.NEVER;
    }
    if (long < JAVA_LONG_MIN || long > JAVA_LONG_MAX) {
      fail(ctx, `must be an integer between ${JAVA_LONG_MIN} and ${JAVA_LONG_MAX}, got ${show(value)}`);
      return z.NEVER;
    }
    const n = Number(long);
    return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n < Number.MIN_SAFE_INTEGER ? Number.MIN_SAFE_INTEGER : n === 0 ? 0 : n;
  });
}

/**
 * A Java `Long` field (offsets, timestamps): an integer a JavaScript number holds exactly (±2^53-1).
 * RocketMQ's offsets and millisecond timestamps stay far below that. Required.
 */
export function longField() {
  return z
    .unknown()
    .transform((value, ctx) =>
      present(value, ctx) ? integer(value, ctx, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'an integer') : z.NEVER,
    );
}

/**
 * A Java `Boolean` field: `true`/`false` or the strings "true"/"false" (any letter case, as Java's
 * `Boolean.parseBoolean` reads them). Unlike Java, other strings are refused rather than read as
 * false, so a client's mistake shows up instead of silently flipping a flag. Required.
 */
export function boolField() {
  return z.unknown().transform((value, ctx) => {
    if (!present(value, ctx)) return z.NEVER;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const lower = value.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
    }
    fail(ctx, `must be true or false, got ${show(value)}`);
    return z.NEVER;
  });
}

/**
 * A Java `String` field. A number or boolean is taken as its text (a JavaScript client sending
 * `topic: 123` means "123"). An empty string passes, as Java's `@CFNotNull` checks only for null.
 * Required.
 */
export function stringField() {
  return z.unknown().transform((value, ctx) => {
    if (!present(value, ctx)) return z.NEVER;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    fail(ctx, `must be a string, got ${show(value)}`);
    return z.NEVER;
  });
}

/**
 * Turn a failed parse into one sentence naming each bad field and what was wrong with it, e.g.
 * `field "queueId" must be an integer, got "abc"; field "topic" is required`.
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path === '' ? issue.message : `field "${path}" ${issue.message}`;
    })
    .join('; ');
}
