/**
 * The server under fuzz, in its own process so the fuzz test can tell a crash from a refusal and
 * read this process's memory alone. Started by transport-fuzz.test.ts with `--expose-gc`; speaks
 * over IPC: sends `{ port }` once listening, answers `'stats'` with memory (after a full GC) and
 * connection counts, and exits on `'stop'`.
 */
import { RemotingServer } from '../src/remoting-server.js';
import { createResponse } from '../src/remoting-command.js';

const ECHO = 9001;
let errors = 0;
let handled = 0;
const server = new RemotingServer({
  host: '127.0.0.1',
  handshakeTimeoutMillis: 500,
  maxFrameSize: 256 * 1024,
  maxHeaderSize: 16 * 1024,
  onError: () => {
    errors++;
  },
});
server.registerHandler(ECHO, (request) => {
  handled++;
  return createResponse(request, 0, undefined, { seen: 'yes' }, request.body);
});
// Real codes with header schemas, so fuzzed headers reach zod too, and odd codes the fuzz uses.
for (const code of [10, 11, 14, 15, 34, 105, 310, 0, 1, 3, -1]) {
  server.registerHandler(code, (request) => {
    handled++;
    return code === 3 ? Promise.reject(new Error('handler failure under fuzz')) : createResponse(request, 0);
  });
}

const { port } = await server.listen();
process.send?.({ type: 'listening', port });
process.on('message', (message: unknown) => {
  if (message === 'stats') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: 'stats', memory: process.memoryUsage(), connections: server.connections.size, errors, handled });
  } else if (message === 'stop') {
    void server.close().then(() => process.exit(0));
  }
});
