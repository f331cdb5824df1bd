/** The facts a benchmark report states about the machine it ran on. */
import { availableParallelism, cpus, loadavg, arch, release, totalmem, type } from 'node:os';

export interface MachineFacts {
  /** Processors this process may use, as `nproc` counts them. */
  nproc: number;
  cpuModel: string;
  memoryMiB: number;
  os: string;
  node: string;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  /** ISO-8601 start time. */
  date: string;
}

/** Facts at the start of a run; call `finish` at the end for the closing load average. */
export function machineFacts(): MachineFacts & { finish(): MachineFacts } {
  const facts: MachineFacts = {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    os: `${type()} ${release()} ${arch()}`,
    node: process.version,
    loadAverageStart: loadavg(),
    loadAverageEnd: loadavg(),
    date: new Date().toISOString(),
  };
  return { ...facts, finish: () => ({ ...facts, loadAverageEnd: loadavg() }) };
}
