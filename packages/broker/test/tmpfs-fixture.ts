/**
 * A small real filesystem for disk-full scenarios: a tmpfs of a few MiB mounted on a fresh folder
 * (needs root, as in the test containers), filled by another program (`dd`, `fallocate`) the way
 * an operator's disk fills. Where mounting is impossible the scenarios are skipped with a line
 * saying so, except under `CI`, where that is a failure: the scenarios must run somewhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function tryMount(dir: string, sizeMiB: number): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

/** Why tmpfs cannot be mounted here, or undefined when it can (probed once, at import). */
export const tmpfsUnavailable: string | undefined = (() => {
  const probe = mkdtempSync(join(tmpdir(), 'karman-tmpfs-probe-'));
  const why = tryMount(probe, 1);
  if (why === undefined) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  if (why !== undefined) {
    if (process.env.CI) throw new Error(`disk-full scenarios need a tmpfs mount (run as root): ${why}`);
    console.warn(`[disk-full scenarios] skipped: cannot mount a tmpfs here (${why}); run as root to exercise them`);
  }
  return why;
})();

export interface Tmpfs extends AsyncDisposable {
  /** The mount point. */
  dir: string;
  /** Fill what is free with `path` (relative to the mount) using `dd`, until the disk is full. */
  fill(name?: string): void;
  /** Grow `name` with `fallocate` until the filesystem is `percent` % used. */
  fillTo(percent: number, name?: string): void;
  /** Delete a filler. */
  free(name?: string): void;
  /** Used percent, as `df` shows it. */
  usedPercent(): number;
}

/** Mount a tmpfs of `sizeMiB` on a unique folder; unmounted (and removed) on dispose. */
export function mountTmpfs(sizeMiB = 64): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'karman-tmpfs-'));
  const why = tryMount(dir, sizeMiB);
  if (why !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot mount a tmpfs on ${dir}: ${why}`);
  }
  const usage = () => {
    const s = statfsSync(dir);
    return { total: s.blocks * s.bsize, free: s.bavail * s.bsize, used: (s.blocks - s.bavail) * s.bsize };
  };
  return {
    dir,
    fill(name = 'filler') {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(dir, name)}`, 'bs=64k'], { stdio: 'pipe' });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
    },
    fillTo(percent, name = 'filler') {
      const u = usage();
      const want = Math.ceil((u.total * percent) / 100) - u.used;
      if (want > 0) execFileSync('fallocate', ['-l', String(want), join(dir, name)], { stdio: 'pipe' });
    },
    free(name = 'filler') {
      rmSync(join(dir, name), { force: true });
    },
    usedPercent() {
      const u = usage();
      return (u.used / u.total) * 100;
    },
    async [Symbol.asyncDispose]() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
