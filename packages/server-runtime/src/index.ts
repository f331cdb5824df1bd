export { serveUntilSignal, runMain } from './serve-until-signal.js';
export type { ServeOptions, ProcessLog } from './serve-until-signal.js';
