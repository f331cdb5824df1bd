/**
 * karman-admin as a real process (from source: tsx and the `@karman/source` condition): what a
 * shell script sees, stdout, stderr and the exit code.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');

function karmanAdmin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

describe('the karman-admin process', () => {
  it('prints JSON for --json and exits 0', async () => {
    const result = await karmanAdmin(['clusterList', '-n', cluster.namesrvAddr, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ brokerName: string; address: string }>;
    expect(rows.map((r) => [r.brokerName, r.address])).toEqual([['broker-a', cluster.brokers[0]!.address]]);
  });

  it('exits 1 with one line on stderr when no nameserver answers, and 2 for an unknown command', async () => {
    const unreachable = await karmanAdmin(['topicList', '-n', '127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toBe('');
    expect(unreachable.stderr).toMatch(/^karman-admin topicList: .*no nameserver answered.*\n$/);
    const unknown = await karmanAdmin(['nosuchCommand']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('karman-admin: unknown command "nosuchCommand"; run karman-admin --help for the list\n');
  });

  it('reads the nameserver from NAMESRV_ADDR when -n is absent', async () => {
    const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', 'topicList', '--json'], {
      cwd: appDir,
      env: { ...process.env, NAMESRV_ADDR: cluster.namesrvAddr },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toContain('DefaultCluster');
  });
});
