/**
 * How a Karman server binary lives as a process: it starts its server, then waits for SIGTERM or
 * SIGINT and stops it gracefully. A signal that arrives while the server is still starting is
 * honoured once start-up ends; a second signal while stopping exits at once with 1.
 *
 * Exit codes: 0 after a graceful stop, 1 on a failure to start or stop (or a second signal).
 */

/** The slice of a pino logger this needs. */
export interface ProcessLog {
  info(fields: object, message: string): void;
  info(message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  fatal(fields: object, message: string): void;
}

export interface ServeOptions<S> {
  /** Process name for log lines, e.g. `karman-broker`. */
  name: string;
  log: ProcessLog;
  /** Start the server; a rejection ends the process with 1. */
  start(): Promise<S>;
  /** Log what the started server listens on (the line tests and scripts wait for). */
  started(server: S): void;
  /** Stop the server gracefully. */
  stop(server: S): Promise<void>;
}

/** Start, then wait for a signal and stop. Resolves with the process exit code. */
export async function serveUntilSignal<S>(options: ServeOptions<S>): Promise<number> {
  const { name, log } = options;
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const signalHandler = (signal: NodeJS.Signals): void => {
    if (onSignal) onSignal(signal);
    else signalled ??= signal;
  };
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);

  let server: S;
  try {
    server = await options.start();
  } catch (error) {
    log.fatal({ err: error }, `${name} failed to start`);
    return 1;
  }
  options.started(server);

  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      options.stop(server).then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'failed to stop cleanly');
          resolve(1);
        },
      );
    };
    if (signalled) onSignal(signalled);
  });
}

/**
 * Run a binary's `main` and exit with its code. Open handles (a client still connected) must not
 * keep a stopped server alive, so the process exits right after.
 */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
      setImmediate(() => process.exit(code)).unref();
    },
    (error: unknown) => {
      process.stderr.write(`${name}: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
