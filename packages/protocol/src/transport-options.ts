/**
 * Merging a component's options with its defaults through one zod schema: the
 * schema is the single source of types and defaults, the caller's object is never mutated, and a bad
 * value is refused with an error naming the option, what was wrong and the value given.
 */
import { z } from 'zod';
import { InvalidArgumentError } from './errors.js';

/** A schema for an optional callback option (zod checks only that it is a function). */
export function callback<T extends (...args: never[]) => unknown>(): z.ZodType<T, T> {
  return z.custom<T>((value) => typeof value === 'function', { message: 'must be a function' });
}

/** Parse `input` with `schema`, throwing `InvalidArgumentError` naming `component` and the bad option. */
export function parseOptions<S extends z.ZodType>(component: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    const given = path === '' ? input : issue.path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey], input);
    const shown = typeof given === 'function' ? 'a function' : JSON.stringify(given) ?? String(given);
    return `${path === '' ? 'options' : `option "${path}"`} ${issue.message} (got ${shown})`;
  });
  throw new InvalidArgumentError(`${component}: ${problems.join('; ')}`);
}
