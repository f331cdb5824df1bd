/**
 * Client ids (RocketMQ `ClientConfig.buildMQClientId`): `ip@instanceName[@unitName]`, where the
 * default instance name becomes `<pid>#<nanotime>` — the nanotime taken once per process, so every
 * default-named producer and consumer of a process shares one client instance (as RocketMQ 4.x
 * does with the pid) while two processes on one host never collide. Brokers use the id to tell
 * group members apart and every member sorts the ids the same way when rebalancing.
 */
import { networkInterfaces } from 'node:os';

const PROCESS_NANOTIME = process.hrtime.bigint();

/** This host's first non-internal IPv4 address, else 127.0.0.1. */
export function localIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function buildClientId(ip: string, instanceName: string, unitName?: string): string {
  const instance = instanceName === 'DEFAULT' ? `${process.pid}#${PROCESS_NANOTIME}` : instanceName;
  return unitName ? `${ip}@${instance}@${unitName}` : `${ip}@${instance}`;
}
