/**
 * Karman's one error hierarchy. Every error a Karman package throws is a `KarmanError` carrying a
 * stable string `code` and a `retriable` flag, so callers branch on data rather than on message
 * text. Subclasses exist only where callers branch on the kind: a request that timed out, a
 * connection that closed under it, a server that answered with an error code, an argument the
 * caller must fix, and bytes that break the protocol.
 */
import { requestCodeName, responseCodeInfo, responseCodeName } from './codes.js';

export interface KarmanErrorOptions {
  /** Whether the same call may succeed if tried again (elsewhere, or later). */
  retriable?: boolean;
  /** The error underneath, if any. */
  cause?: unknown;
}

/** Base of every error a Karman package throws. */
export class KarmanError extends Error {
  override name: string = 'KarmanError';
  /** Stable machine-readable kind, e.g. `REQUEST_TIMEOUT`, `INVALID_ARGUMENT`. */
  readonly code: string;
  /** Whether the same call may succeed if tried again. */
  readonly retriable: boolean;

  constructor(code: string, message: string, options: KarmanErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
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
    super('REQUEST_TIMEOUT', `request ${requestCodeName(requestCode)} (${requestCode}) to ${address} got no response within ${timeoutMillis} ms`, {
      retriable: true,
    });
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
    super('CONNECTION_CLOSED', `connection to ${address} closed: ${reason}`, { retriable: true, cause });
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
      { retriable: info?.retriable ?? false },
    );
    this.responseCode = responseCode;
    this.remark = remark;
  }
}

/** The caller passed something unusable; the message names the argument and the fix. */
export class InvalidArgumentError extends KarmanError {
  override name = 'InvalidArgumentError' as const;
  constructor(message: string, cause?: unknown) {
    super('INVALID_ARGUMENT', message, { retriable: false, cause });
  }
}

/** Bytes that break the wire or storage format: a bad frame, header, record or id. */
export class ProtocolError extends KarmanError {
  override name = 'ProtocolError' as const;
  constructor(message: string, cause?: unknown) {
    super('PROTOCOL_ERROR', message, { retriable: false, cause });
  }
}
