/**
 * Message ids.
 *
 * Offset message id (`MessageDecoder.createMessageId`): where a message is stored, as upper-case hex
 *
 *   store IP (4, or 16 for IPv6) | store port (i32) | commit-log physical offset (i64)
 *
 * = 32 hex characters for IPv4 and 56 for IPv6. Decoding it tells a client which broker and offset
 * to ask (VIEW_MESSAGE_BY_ID). ali-ons computes it itself from a pulled record, so the broker must
 * return this exact text as the send result's offset id.
 *
 * Unique client id, the UNIQ_KEY property (`MessageClientIDSetter.createUniqID`): what
 * `SendResult.msgId` and a consumer's `msg.msgId` are. 16 bytes, 32 upper-case hex characters:
 *
 *   client IPv4 (4) | pid low 16 bits (2) | class-loader hash (4) | ms since the start of this month, local time (i32) | counter (u16)
 *
 * The first 10 bytes are fixed per process. Karman has no class loader, so a random 32-bit value
 * per process takes its place; it serves the same purpose, telling apart two producers that share
 * an IP and pid (containers).
 */
import { randomInt } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { hostAddressBytes, readHostAt } from './message-record.js';
import type { HostAddress } from './message-record.js';
import { isSafeInt64At, readInt64BE, writeInt64BE } from './int64.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));
const HEX_TEXT = /^[0-9A-Fa-f]*$/;

function toHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += HEX[byte];
  return text;
}

function fromHex(id: string): Buffer {
  return Buffer.from(id, 'hex');
}

/** The offset message id of a record stored at `physicalOffset` on `storeHost`: 32 hex characters (IPv4) or 56 (IPv6). */
export function createOffsetMessageId(storeHost: HostAddress, physicalOffset: number): string {
  const ip = hostAddressBytes(storeHost.host);
  const port = storeHost.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`store port must be an integer from 0 to 65535, got ${port}`);
  if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0) {
    throw new InvalidArgumentError(`physical offset must be a non-negative safe integer, got ${physicalOffset}`);
  }
  const buf = Buffer.allocUnsafe(ip.length + 12);
  buf.set(ip, 0);
  buf.writeInt32BE(port, ip.length);
  writeInt64BE(buf, physicalOffset, ip.length + 4);
  return toHex(buf);
}

/** Decode an offset message id (either case). ProtocolError names what is wrong with a malformed id. */
export function decodeOffsetMessageId(id: string): { host: HostAddress; physicalOffset: number } {
  if (typeof id !== 'string') throw new ProtocolError('offset message id must be a string');
  if ((id.length !== 32 && id.length !== 56) || !HEX_TEXT.test(id)) {
    throw new ProtocolError(`offset message id ${JSON.stringify(id.slice(0, 80))} is not 32 (IPv4) or 56 (IPv6) hex characters`);
  }
  const buf = fromHex(id);
  const ipLength = id.length === 32 ? 4 : 16;
  const host = readHostAt(buf, 0, ipLength);
  if (host.port < 0 || host.port > 65535) throw new ProtocolError(`offset message id ${id} holds port ${host.port}, outside 0..65535`);
  if (!isSafeInt64At(buf, ipLength + 4) || buf.readInt32BE(ipLength + 4) < 0) {
    throw new ProtocolError(`offset message id ${id} holds an offset beyond 2^53; it is not a commit-log offset`);
  }
  return { host, physicalOffset: readInt64BE(buf, ipLength + 4) };
}

/** The fields of a unique client id (UNIQ_KEY). */
export interface UniqueIdParts {
  /** Client IPv4 address, dotted. */
  ip: string;
  /** Low 16 bits of the client's process id. */
  pid: number;
  /** Java's class-loader hash; Karman's random per-process value (signed 32-bit). */
  classLoaderHash: number;
  /** Milliseconds since the start of the month, local time, as an unsigned 32-bit value (Java writes `(int)` and reads it back unsigned, `getNearlyTimeFromID`). */
  elapsedInMonth: number;
  /** Per-process counter, 16 bits, wrapping. */
  counter: number;
}

/** Encode unique-id fields as 32 upper-case hex characters. */
export function encodeUniqueId(parts: UniqueIdParts): string {
  const ip = hostAddressBytes(parts.ip);
  if (ip.length !== 4) throw new InvalidArgumentError(`unique id IP must be IPv4 (the id holds 4 address bytes), got ${parts.ip}`);
  const buf = Buffer.allocUnsafe(16);
  buf.set(ip, 0);
  buf.writeUInt16BE(parts.pid & 0xffff, 4);
  buf.writeInt32BE(parts.classLoaderHash | 0, 6);
  buf.writeUInt32BE(parts.elapsedInMonth >>> 0, 10);
  buf.writeUInt16BE(parts.counter & 0xffff, 14);
  return toHex(buf);
}

/** Decode a unique client id; ProtocolError when it is not 32 hex characters. */
export function decodeUniqueId(id: string): UniqueIdParts {
  if (typeof id !== 'string' || id.length !== 32 || !HEX_TEXT.test(id)) {
    throw new ProtocolError(`unique message id ${JSON.stringify(String(id).slice(0, 80))} is not 32 hex characters`);
  }
  const buf = fromHex(id);
  return {
    ip: `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`,
    pid: buf.readUInt16BE(4),
    classLoaderHash: buf.readInt32BE(6),
    elapsedInMonth: buf.readUInt32BE(10),
    counter: buf.readUInt16BE(14),
  };
}

let uniqueIdPrefix: string | undefined;
let monthStart = 0;
let nextMonthStart = 0;
let uniqueIdCounter = 0;

/** A fresh UNIQ_KEY in RocketMQ's `MessageClientIDSetter` format: 32 upper-case hex characters. */
export function createUniqueId(): string {
  uniqueIdPrefix ??= encodeUniqueId({ ip: localIPv4(), pid: process.pid, classLoaderHash: randomInt(-0x80000000, 0x80000000), elapsedInMonth: 0, counter: 0 }).slice(0, 20);
  const now = Date.now();
  if (now >= nextMonthStart) {
    const date = new Date(now);
    monthStart = new Date(date.getFullYear(), date.getMonth(), 1).getTime();
    nextMonthStart = new Date(date.getFullYear(), date.getMonth() + 1, 1).getTime();
  }
  const elapsed = now - monthStart;
  const counter = uniqueIdCounter;
  uniqueIdCounter = (uniqueIdCounter + 1) & 0xffff;
  return (
    uniqueIdPrefix +
    HEX[(elapsed >>> 24) & 0xff] +
    HEX[(elapsed >>> 16) & 0xff] +
    HEX[(elapsed >>> 8) & 0xff] +
    HEX[elapsed & 0xff] +
    HEX[counter >>> 8] +
    HEX[counter & 0xff]
  );
}

/** This host's first external IPv4 address, or RocketMQ's fallback (`createFakeIP`: the low 4 bytes of the clock). */
function localIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal && !address.address.startsWith('169.254.')) return address.address;
    }
  }
  const now = Date.now();
  return `${(now >>> 24) & 0xff}.${(now >>> 16) & 0xff}.${(now >>> 8) & 0xff}.${now & 0xff}`;
}
