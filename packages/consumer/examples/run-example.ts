/** Runs examples/push-consumer.ts against an in-process cluster (how the README example is checked). */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startCluster } from '@karman/testkit';

await using cluster = await startCluster({ brokers: 1 });
await cluster.createTopic('Orders', { queues: 4 });
// Async spawn: the cluster in this process must keep serving while the example runs.
const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', fileURLToPath(new URL('./push-consumer.ts', import.meta.url))], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  env: { ...process.env, NAMESRV: cluster.namesrvAddr },
  stdio: 'inherit',
  timeout: 60_000,
});
const [code] = (await once(child, 'exit')) as [number | null];
process.exitCode = code ?? 1;
