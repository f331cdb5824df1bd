import { expect, it } from 'vitest';
import { keyValues, table } from './table.js';

it('prints cells and values with control characters escaped, one row per line', () => {
  const cell = 'a\\x1b[31mred\\x0anext';
  expect(table(['Group', 'Count'], [['a\u001b[31mred\nnext', 1]])).toBe(`${'#Group'.padEnd(cell.length)}  #Count\n${cell}  1\n`);
  expect(keyValues({ 'k\r': 'v\u2028w' })).toBe('k\\x0d : v\\u2028w\n');
});
