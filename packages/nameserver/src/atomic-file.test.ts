import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic on a full disk', () => {
  // `<file>.tmp` as a link to /dev/full: every write to it fails with the kernel's ENOSPC.
  it('rejects with ENOSPC, leaves no .tmp behind and the file as it was', async () => {
    const path = join(dir, 'kvConfig.json');
    writeFileSync(path, '{"old":true}');
    symlinkSync('/dev/full', `${path}.tmp`);
    await expect(writeFileAtomic(path, '{"new":true}')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('{"old":true}');
    await writeFileAtomic(path, '{"new":true}');
    expect(readFileSync(path, 'utf8')).toBe('{"new":true}');
  });
});
