import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JsonConfigFile } from './json-config-file.js';

const Schema = z.object({ n: z.number() });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('JsonConfigFile', () => {
  it('returns undefined when nothing was saved, then reads back what was saved', async () => {
    const file = new JsonConfigFile(join(dir, 'config', 'a.json'), Schema);
    expect(file.load()).toBeUndefined();
    await file.save({ n: 1 });
    expect(new JsonConfigFile(join(dir, 'config', 'a.json'), Schema).load()).toEqual({ n: 1 });
  });

  it('keeps the previous content in .bak and falls back to it when the file is gone (crash between renames)', async () => {
    const path = join(dir, 'a.json');
    const file = new JsonConfigFile(path, Schema);
    await file.save({ n: 1 });
    await file.save({ n: 2 });
    expect(JSON.parse(readFileSync(`${path}.bak`, 'utf8'))).toEqual({ n: 1 });
    renameSync(path, join(dir, 'gone'));
    expect(file.load()).toEqual({ n: 1 });
  });

  it('falls back to .bak when the file is corrupt, and names both files when both are', async () => {
    const path = join(dir, 'a.json');
    const file = new JsonConfigFile(path, Schema);
    await file.save({ n: 1 });
    await file.save({ n: 2 });
    writeFileSync(path, '{"n": tru');
    expect(file.load()).toEqual({ n: 1 });
    writeFileSync(`${path}.bak`, '{"n": "not a number"}');
    expect(() => file.load()).toThrow(/a\.json.*a\.json\.bak.*n:/);
  });

  it('coalesces concurrent saves and ends with the latest value', async () => {
    const path = join(dir, 'a.json');
    const file = new JsonConfigFile(path, Schema);
    await Promise.all(Array.from({ length: 20 }, (_, i) => file.save({ n: i })));
    expect(file.load()).toEqual({ n: 19 });
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});

describe('JsonConfigFile on a full disk', () => {
  // `<file>.tmp` as a link to /dev/full: every write to it fails with the kernel's ENOSPC.
  it('persist reports a failed write, leaves no .tmp and the old file as it was, and retry writes the kept value', async () => {
    const path = join(dir, 'a.json');
    const errors: string[] = [];
    const recovered: number[] = [];
    const file = new JsonConfigFile(path, Schema, { onError: (_p, e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message), onRecovered: (_p, n) => recovered.push(n) });
    expect(await file.persist({ n: 1 })).toBe(true);
    symlinkSync('/dev/full', `${path}.tmp`);
    expect(await file.persist({ n: 2 })).toBe(false);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    symlinkSync('/dev/full', `${path}.tmp`);
    expect(await file.persist({ n: 3 })).toBe(false);
    expect(errors).toEqual(['ENOSPC', 'ENOSPC']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(file.load()).toEqual({ n: 1 });

    await file.retry();
    expect(new JsonConfigFile(path, Schema).load()).toEqual({ n: 3 });
    expect(recovered).toEqual([2]);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});
