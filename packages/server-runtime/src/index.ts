export { serveUntilSignal, runMain } from './serve-until-signal.js';
export type { ServeOptions, ProcessLog } from './serve-until-signal.js';
export { LOG_LEVELS, parseLogLevel } from './log-level.js';
export type { LogLevel } from './log-level.js';
