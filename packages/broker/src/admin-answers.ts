/**
 * What every admin-side processor answers with: a guarded handler registration (a handler that
 * throws answers SYSTEM_ERROR naming the request, and the broker keeps serving) and the success,
 * failure and JSON-body answers.
 */
import { ResponseCode, createResponse } from '@karman/protocol';
import type { ExtFieldValue, RemotingCommand, RequestContext } from '@karman/protocol';
import type { BrokerContext } from './broker-context.js';

export type AdminHandler = (request: RemotingCommand, context: RequestContext) => Promise<RemotingCommand> | RemotingCommand;

/** A `handle(code, handler)` that registers on the broker's server and turns a throw into an answer. */
export function guardedRegistrar(context: BrokerContext): (code: number, handler: AdminHandler) => void {
  return (code, handler) => {
    context.server.registerHandler(code, async (request, requestContext) => {
      try {
        return await handler(request, requestContext);
      } catch (error) {
        // Nothing here is expected to throw; if it does, answer and keep serving.
        context.log('error', `admin request ${code} failed: ${(error as Error).message}`, { code });
        return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `the broker failed to answer request ${code}: ${(error as Error).message}`);
      }
    });
  };
}

export function ok(request: RemotingCommand, body?: Uint8Array, extFields: Record<string, ExtFieldValue | undefined> = {}): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS.code, undefined, extFields, body);
}

export function fail(request: RemotingCommand, code: number, remark: string): RemotingCommand {
  return createResponse(request, code, remark);
}

export function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
