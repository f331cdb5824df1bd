// Builds better-sqlite3's native addon after `pnpm install`.
//
// pnpm runs install scripts without npm's settings, so where no prebuilt binary can be downloaded
// (machines that reach only the npm registry) node-gyp cannot find Node's headers and the build
// fails. pnpm-workspace.yaml therefore leaves better-sqlite3's build to this script, which runs the
// package's own install script through npm: npm passes its settings (`nodedir` among them) on to
// node-gyp, and prebuild-install still fetches a prebuilt binary wherever one can be had.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'packages', 'dedup', 'package.json'));
let dir;
try {
  dir = dirname(require.resolve('better-sqlite3/package.json'));
} catch {
  process.exit(0); // not installed (a filtered install): nothing to build
}
if (existsSync(join(dir, 'build', 'Release', 'better_sqlite3.node'))) process.exit(0);
console.log(`building better-sqlite3 in ${dir}`);
execFileSync('npm', ['run', 'install', '--foreground-scripts'], { cwd: dir, stdio: 'inherit' });
