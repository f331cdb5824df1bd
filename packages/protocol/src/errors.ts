/**
 * Karman's one error hierarchy. Every error a Karman package throws is a `KarmanError` carrying a
 * stable string `code` and a `retriable` flag, so callers branch on data rather than on message
 * text. Subclasses exist only where callers branch on the kind: a request that timed out, a
 * connection that closed under it, a server that answered with an error code, an argument the
 * caller must fix, and bytes that break the protocol.
 */
import { ResponseCode, requestCodeName, responseCodeInfo, responseCodeName } from './codes.js';
import type { ResponseCodeName } from './codes.js';
import { ERROR_CODES } from './error-codes.js';
import type { ErrorCode } from './error-codes.js';

/**
 * What `KarmanError.code` can be: a code of Karman's table (error-codes.ts), or, for a server's
 * error answer, the RocketMQ response code's name (`RESPONSE_<n>` for a code RocketMQ does not name).
 */
export type KarmanErrorCode = ErrorCode | ResponseCodeName | `RESPONSE_${number}`;

export interface KarmanErrorOptions {
  /** The error underneath, if any. */
  cause?: unknown;
}

/** Whether an error of `code` may succeed if tried again, from the table the code belongs to. */
export function isRetriableCode(code: KarmanErrorCode): boolean {
  if (Object.hasOwn(ERROR_CODES, code)) return ERROR_CODES[code as ErrorCode].retriable;
  if (Object.hasOwn(ResponseCode, code)) return ResponseCode[code as ResponseCodeName].retriable;
  return false;
}

/** Base of every error a Karman package throws. */
export class KarmanError extends Error {
  override name: string = 'KarmanError';
  /** Stable machine-readable kind, e.g. `REQUEST_TIMEOUT`, `INVALID_ARGUMENT` (see error-codes.ts). */
  readonly code: KarmanErrorCode;
  /** Whether the same call may succeed if tried again: the code's entry in its table. */
  readonly retriable: boolean;

  constructor(code: KarmanErrorCode, message: string, options: KarmanErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = isRetriableCode(code);
  }

  /** `error` itself when it is an Error, otherwise an INTERNAL_ERROR wrapping whatever was thrown. */
  static from(error: unknown): Error {
    return error instanceof Error ? error : new KarmanError('INTERNAL_ERROR', `non-Error thrown: ${String(error)}`, { cause: error });
  }
}

/** A request got no response within its timeout. The server may still have acted on it. */
export class RequestTimeoutError extends KarmanError {
  override name = 'RequestTimeoutError' as const;
  constructor(
    readonly address: string,
    readonly requestCode: number,
    readonly timeoutMillis: number,
  ) {
    super('REQUEST_TIMEOUT', `request ${requestCodeName(requestCode)} (${requestCode}) to ${address} got no response within ${timeoutMillis} ms`);
  }
}

/** The connection closed (or could not be opened) while a request was pending. */
export class ConnectionClosedError extends KarmanError {
  override name = 'ConnectionClosedError' as const;
  constructor(
    readonly address: string,
    reason: string,
    cause?: unknown,
  ) {
    super('CONNECTION_CLOSED', `connection to ${address} closed: ${reason}`, { cause });
  }
}

/** The server answered with a non-success response code. */
export class RemoteError extends KarmanError {
  override name = 'RemoteError' as const;
  /** RocketMQ response code, e.g. 17 for TOPIC_NOT_EXIST. */
  readonly responseCode: number;
  /** The server's remark, verbatim. */
  readonly remark: string | undefined;

  constructor(responseCode: number, remark?: string, address?: string) {
    const info = responseCodeInfo(responseCode);
    const where = address ? ` from ${address}` : '';
    super(
      info?.name ?? `RESPONSE_${responseCode}`,
      `${responseCodeName(responseCode)} (${responseCode})${where}: ${remark || info?.message || 'no remark'}`,
    );
    this.responseCode = responseCode;
    this.remark = remark;
  }
}

/** The caller passed something unusable; the message names the argument and the fix. */
export class InvalidArgumentError extends KarmanError {
  override name = 'InvalidArgumentError' as const;
  constructor(message: string, cause?: unknown) {
    super('INVALID_ARGUMENT', message, { cause });
  }
}

/** Bytes that break the wire or storage format: a bad frame, header, record or id. */
export class ProtocolError extends KarmanError {
  override name = 'ProtocolError' as const;
  constructor(message: string, cause?: unknown) {
    super('PROTOCOL_ERROR', message, { cause });
  }
}
