import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore } from '../src/message-store.js';
const BODY = Buffer.alloc(1024, 0x42);
const mode = process.argv[2] ?? 'append';
const root = mkdtempSync(join(tmpdir(), 'karman-prof-'));
const store = await MessageStore.open({ storePathRootDir: root, logger: () => undefined, cleanResourceInterval: 0, flushDiskType: 'ASYNC_FLUSH' });
const total = Number(process.env.N ?? 300_000);
let issued = 0;
let t = performance.now();
async function worker(): Promise<void> {
  while (issued < total) {
    const i = issued++;
    const r = await store.put({ topic: 'Bench', queueId: i % 8, body: BODY, properties: { TAGS: 't', KEYS: `k${i}` } });
    if (r.status !== 'PUT_OK') throw new Error(r.status);
  }
}
await Promise.all(Array.from({ length: 1000 }, () => worker()));
console.log('append', Math.round(total / ((performance.now() - t) / 1000)));
if (mode === 'read') {
  t = performance.now();
  let n = 0;
  for (let rep = 0; rep < 3; rep++) {
    const offsets = new Array(8).fill(0);
    let live = 8;
    while (live > 0) {
      live = 0;
      for (let q = 0; q < 8; q++) {
        const r = await store.getMessage({ topic: 'Bench', queueId: q, offset: offsets[q], maxCount: 32 });
        if (r.status !== 'FOUND') continue;
        live++;
        n += r.buffers.length;
        offsets[q] = r.nextBeginOffset;
      }
    }
  }
  console.log('read', Math.round(n / ((performance.now() - t) / 1000)));
}
await store.close();
rmSync(root, { recursive: true, force: true });
