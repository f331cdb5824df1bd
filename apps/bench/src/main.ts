/**
 * karman-bench's process entry: runs the command line against the real stdout/stderr. The first
 * SIGINT or SIGTERM stops the benchmark, which then prints its summary; a second one exits at once.
 */
import { run } from './cli.js';

const stop = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  if (stop.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: stop.signal });
process.exitCode = code;
// Client sockets and timers of a stopped benchmark must not keep the process alive.
setTimeout(() => process.exit(code), 2_000).unref();
