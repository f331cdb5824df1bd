import { InvalidArgumentError } from '@karman/protocol';

/** The `--log-level` values both server binaries accept (pino's levels). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Read a `--log-level` flag (`info` when absent); the error names the value and the choices. */
export function parseLogLevel(value: string | undefined): LogLevel {
  const level = value ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new InvalidArgumentError(`--log-level ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}
