/**
 * Runs karman-broker as a real child process from source (tsx, the `@karman/source` condition, so
 * no build is needed) and reads its pino JSON log lines.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface RunningBroker {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runBroker(args: string[]): RunningBroker {
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    let newline;
    while ((newline = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ text: line });
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, stderr: () => stderr, exited };
}

export async function waitForLine(running: RunningBroker, msg: string, timeoutMillis = 15_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  for (;;) {
    const line = running.lines.find((l) => l.msg === msg);
    if (line) return line;
    if (running.child.exitCode !== null) throw new Error(`karman-broker exited (${running.child.exitCode}) before logging "${msg}": ${running.stderr()}`);
    if (Date.now() - start > timeoutMillis) throw new Error(`no "${msg}" log line within ${timeoutMillis} ms; stderr: ${running.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Small segment and index sizes so a test store stays a few MiB. */
export const SMALL_STORE = [
  '--set', 'mappedFileSizeCommitLog=1048576',
  '--set', 'mappedFileSizeConsumeQueue=20000',
  '--set', 'maxHashSlotNum=1000',
  '--set', 'maxIndexNum=4000',
  '--set', 'cleanResourceInterval=0',
];
