/**
 * Answering one incoming request, shared by the server (client requests) and the client
 * (server-initiated requests). A handler may answer synchronously or with a promise; whatever it
 * does, exactly one response goes out for a two-way request and none for a oneway request, and no
 * throw or rejection escapes.
 *
 * These are plain functions over a long-lived `Responder` rather than closures made per request:
 * this path runs for every frame, and allocating three closures each time showed up in profiles.
 */
import { ConnectionClosedError, KarmanError, RemoteError } from './errors.js';
import { ResponseCode } from './codes.js';
import { FLAG_RESPONSE, createResponse, isOneway } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';

/** What a request handler may return. */
export type HandlerResult = RemotingCommand | undefined | Promise<RemotingCommand | undefined>;

/** Where answers go: one per connection. */
export interface Responder {
  /** Queue a response frame; may throw `ConnectionClosedError` (dropped) or an encoding error. */
  sendResponse(response: RemotingCommand): void;
  /** Handler failures and responses that could not be sent. Must not throw. */
  reportError(error: Error): void;
}

/** The error response for a failed handler: a `RemoteError` keeps its response code, anything else is SYSTEM_ERROR. */
function errorResponse(request: RemotingCommand, error: unknown): RemotingCommand {
  if (error instanceof RemoteError) return createResponse(request, error.responseCode, error.remark ?? error.message);
  const message = error instanceof Error ? error.message : String(error);
  return createResponse(request, ResponseCode.SYSTEM_ERROR.code, message);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new KarmanError('HANDLER_FAILED', String(error));
}

/** Send `response` unless the request is oneway; a peer that left meanwhile is not a failure. */
function reply(request: RemotingCommand, response: RemotingCommand, responder: Responder): void {
  if (isOneway(request)) return;
  try {
    responder.sendResponse(response);
  } catch (error) {
    if (!(error instanceof ConnectionClosedError)) responder.reportError(toError(error));
  }
}

/** The handler failed: report it (a deliberate `RemoteError` on a two-way request is an answer, not a failure) and answer with the error. */
function failRequest(request: RemotingCommand, error: unknown, responder: Responder): void {
  if (!(error instanceof RemoteError) || isOneway(request)) responder.reportError(toError(error));
  reply(request, errorResponse(request, error), responder);
}

/** The handler answered `response`: send it under the request's opaque, flagged as a response, in the request's serialization. */
export function finishRequest(request: RemotingCommand, response: RemotingCommand | undefined, responder: Responder): void {
  if (isOneway(request)) return;
  if (response === undefined) {
    failRequest(request, new KarmanError('NO_RESPONSE', `the handler for request code ${request.code} returned no response to a two-way request`), responder);
    return;
  }
  const answer: RemotingCommand = {
    ...response,
    opaque: request.opaque,
    flag: response.flag | FLAG_RESPONSE,
    serializeType: response.serializeType ?? request.serializeType,
  };
  try {
    responder.sendResponse(answer);
  } catch (error) {
    if (error instanceof ConnectionClosedError) return;
    // The response itself could not be encoded (e.g. a code too wide for the binary header): tell the peer.
    failRequest(request, error, responder);
  }
}

/** Hand what a handler returned (a response, undefined, or a promise of either) to `finishRequest`/`failRequest`. */
function settleRequest(request: RemotingCommand, result: HandlerResult, responder: Responder): void {
  if (result !== undefined && typeof (result as Partial<PromiseLike<unknown>>).then === 'function') {
    Promise.resolve(result).then(
      (response) => finishRequest(request, response, responder),
      (error: unknown) => failRequest(request, error, responder),
    );
    return;
  }
  finishRequest(request, result as RemotingCommand | undefined, responder);
}

/** Run `handle` for `request` and answer through `responder`, turning a throw into an error response. */
export function answerRequest<C>(request: RemotingCommand, handle: (request: RemotingCommand, context: C) => HandlerResult, context: C, responder: Responder): void {
  let result: HandlerResult;
  try {
    result = handle(request, context);
  } catch (error) {
    failRequest(request, error, responder);
    return;
  }
  settleRequest(request, result, responder);
}
