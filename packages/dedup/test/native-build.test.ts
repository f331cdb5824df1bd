/**
 * The workspace's build-script gate (`allowBuilds` in pnpm-workspace.yaml) is the one place that
 * decides which dependencies may run install scripts. These checks keep it that way: every installed
 * package with a build step is named there, nothing at the root runs a dependency's script behind the
 * gate's back, and better-sqlite3 — the one native addon — is built by pnpm itself and loads.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `allowBuilds` of pnpm-workspace.yaml: package name → allowed. */
function allowBuilds(): Map<string, boolean> {
  const text = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const section = /^allowBuilds:\n((?:[ \t]+.*\n?)*)/m.exec(text);
  const gate = new Map<string, boolean>();
  for (const line of (section?.[1] ?? '').split('\n')) {
    const entry = /^\s+['"]?([^'":]+)['"]?:\s*(true|false)\s*$/.exec(line);
    if (entry) gate.set(entry[1]!, entry[2] === 'true');
  }
  return gate;
}

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
}

/** Every installed package (in pnpm's virtual store) that has a build step: an install script or a binding.gyp. */
function packagesWithBuildSteps(): Set<string> {
  const store = join(root, 'node_modules', '.pnpm');
  const names = new Set<string>();
  for (const entry of readdirSync(store)) {
    const modules = join(store, entry, 'node_modules');
    if (!existsSync(modules)) continue;
    for (const name of readdirSync(modules)) {
      const dirs = name.startsWith('@') ? readdirSync(join(modules, name)).map((n) => join(modules, name, n)) : [join(modules, name)];
      for (const dir of dirs) {
        const manifestPath = join(dir, 'package.json');
        if (!existsSync(manifestPath)) continue;
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
        const scripts = manifest.scripts ?? {};
        if (scripts['preinstall'] || scripts['install'] || scripts['postinstall'] || existsSync(join(dir, 'binding.gyp'))) {
          names.add(manifest.name);
        }
      }
    }
  }
  return names;
}

describe('native builds go through the workspace build-script gate', () => {
  it('names every installed package with a build step in allowBuilds', () => {
    const gate = allowBuilds();
    const withBuildSteps = [...packagesWithBuildSteps()].sort();
    expect(withBuildSteps).toContain('better-sqlite3');
    expect(withBuildSteps.filter((name) => !gate.has(name))).toEqual([]);
    expect(gate.get('better-sqlite3')).toBe(true);
  });

  it('runs no install script of its own at the root', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
    const lifecycle = Object.keys(manifest.scripts ?? {}).filter((name) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(name));
    expect(lifecycle).toEqual([]);
  });

  it('has better-sqlite3 built in place by pnpm, and it opens a database', () => {
    const require = createRequire(join(root, 'packages', 'dedup', 'package.json'));
    const dir = dirname(require.resolve('better-sqlite3/package.json'));
    expect(existsSync(join(dir, 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
    const Database = require('better-sqlite3') as new (path: string) => { prepare(sql: string): { get(): unknown }; close(): void };
    const db = new Database(':memory:');
    expect(db.prepare("SELECT sqlite_version() AS version").get()).toMatchObject({ version: expect.stringMatching(/^3\.\d+\.\d+$/) });
    db.close();
  });
});
