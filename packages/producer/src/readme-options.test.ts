/**
 * The options table of this package's README is what users read instead of the schema: it must
 * name every option the schema takes, no option it does not, and the schema's defaults.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProducerOptionsSchema } from './producer-options.js';

interface Row {
  names: string[];
  defaults: string[];
}

function optionRows(): Row[] {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const section = readme.split('\n## Options\n')[1]!.split('\n## ')[0]!;
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [names, defaults] = line.split('|').slice(1, 3).map((cell) => cell.trim());
      return { names: [...names!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!), defaults: defaults!.split(' / ').map((d) => d.replace(/`/g, '').trim()) };
    });
}

/** The README's spelling of a schema default. */
function spelled(value: unknown): string {
  if (typeof value === 'number' && value >= 1024 * 1024 && value % (1024 * 1024) === 0) return `${value / (1024 * 1024)} MiB`;
  return String(value);
}

describe('README options table', () => {
  const shape = ProducerOptionsSchema.shape;
  const rows = optionRows();

  it('lists every option of ProducerOptionsSchema and nothing else', () => {
    const documented = rows.flatMap((row) => row.names).sort();
    expect(documented).toEqual(Object.keys(shape).sort());
  });

  it('gives each option the default the schema applies', () => {
    const mismatches: string[] = [];
    for (const row of rows) {
      row.names.forEach((name, i) => {
        const field = shape[name as keyof typeof shape];
        const result = field.safeParse(undefined);
        const cell = row.defaults[row.defaults.length === row.names.length ? i : 0]!;
        if (!result.success) {
          if (cell !== '(required)' && cell !== '(none)') mismatches.push(`${name}: README says ${cell}, the schema requires it`);
          return;
        }
        const expected = result.data === undefined ? '(none)' : spelled(result.data);
        if (cell !== expected) mismatches.push(`${name}: README says ${cell}, the schema's default is ${expected}`);
      });
    }
    expect(mismatches).toEqual([]);
  });
});
