/**
 * The one place options are merged with their defaults: zod parses a copy, so the
 * caller's object is never mutated, and a bad value becomes an InvalidArgumentError that names the
 * option, what was wrong and the value given.
 */
import type { z } from 'zod';
import { InvalidArgumentError } from '@karman/protocol';

export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, where: string): z.output<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const given = path === '' ? options : valueAt(options, issue.path);
    return `${path || 'options'} ${issue.message} (got ${describe(given)})`;
  });
  throw new InvalidArgumentError(`${where}: invalid options: ${problems.join('; ')}`, result.error);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
