// Lints every workspace package's manifest against what `pnpm pack` would publish (publint): exports
// that point at files the package does not ship, missing types, wrong module formats. The packages'
// exports point at dist/, so this builds first (turbo's cache makes a second run cheap). Private
// packages (the apps, tests and tools) are never published and are skipped, but a published package
// must not depend on one.
//
//   node scripts/check-packages.mjs
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync('pnpm', ['run', 'build'], { cwd: root, stdio: 'inherit' });

const packages = [];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group)).sort()) {
    const pkgDir = join(root, group, name);
    if (!existsSync(join(pkgDir, 'package.json'))) continue;
    packages.push({ group, name, pkgDir, pkg: JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) });
  }
}
const privateNames = new Set(packages.filter(({ pkg }) => pkg.private).map(({ pkg }) => pkg.name));

let problems = 0;
for (const { group, name, pkgDir, pkg } of packages) {
  if (pkg.private) continue;
  for (const dependency of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    if (!privateNames.has(dependency)) continue;
    problems += 1;
    console.error(`${pkg.name} (${group}/${name}): depends on ${dependency}, which is private and never published`);
  }
  const { messages } = await publint({ pkgDir, level: 'suggestion', strict: true, pack: 'pnpm' });
  for (const message of messages) {
    problems += 1;
    console.error(`${pkg.name} (${group}/${name}): ${message.type}: ${formatMessage(message, pkg) ?? message.code}`);
  }
}
if (problems > 0) {
  console.error(`publint: ${problems} problem(s) in the package manifests above`);
  process.exit(1);
}
console.log('publint: every package manifest matches what it would publish');
