/**
 * karman-admin's process entry: runs the command line against the real stdout/stderr and exits with
 * the code `run` returns (see cli.ts for the codes).
 */
import { run } from './cli.js';

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
