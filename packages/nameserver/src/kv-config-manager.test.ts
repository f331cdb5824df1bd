import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KVConfigManager, MAX_KV_KEYS_PER_NAMESPACE, MAX_KV_NAMESPACES } from './kv-config-manager.js';

describe('KVConfigManager', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-kv-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps namespaced values across a restart in kvConfig.json', async () => {
    const path = join(dir, 'kvConfig.json');
    const kv = new KVConfigManager({ path });
    await kv.load();
    await kv.put('ORDER_TOPIC_CONFIG', 'OrderTopic', 'broker-a:4;broker-b:4');
    await kv.put('ns', 'k1', 'v1');
    await kv.put('ns', 'k2', 'v2');
    expect(await kv.delete('ns', 'k1')).toBe(true);
    expect(await kv.delete('ns', 'missing')).toBe(false);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ configTable: { ORDER_TOPIC_CONFIG: { OrderTopic: 'broker-a:4;broker-b:4' }, ns: { k2: 'v2' } } });

    const again = new KVConfigManager({ path });
    await again.load();
    expect(again.get('ORDER_TOPIC_CONFIG', 'OrderTopic')).toBe('broker-a:4;broker-b:4');
    expect(again.getNamespace('ns')).toEqual({ k2: 'v2' });
    expect(again.getNamespace('none')).toBeUndefined();
  });

  it('writes concurrent puts in order, so the file ends with the last value', async () => {
    const path = join(dir, 'kvConfig.json');
    const kv = new KVConfigManager({ path });
    await Promise.all(Array.from({ length: 20 }, (_, i) => kv.put('ns', 'k', String(i))));
    const again = new KVConfigManager({ path });
    await again.load();
    expect(again.get('ns', 'k')).toBe('19');
  });

  it('falls back to the .bak copy when the file is torn, and refuses to start empty when both are bad', async () => {
    const path = join(dir, 'kvConfig.json');
    const kv = new KVConfigManager({ path });
    await kv.put('ns', 'k', 'first');
    await kv.put('ns', 'k', 'second');
    await writeFile(path, '{"configTable": {"ns": {"k": "sec');
    const recovered = new KVConfigManager({ path });
    await recovered.load();
    expect(recovered.get('ns', 'k')).toBe('first');
    await writeFile(`${path}.bak`, 'garbage');
    await expect(new KVConfigManager({ path }).load()).rejects.toThrow(/cannot read .*kvConfig.json/);
  });

  it('refuses empty namespaces and keys with a message naming them', async () => {
    const kv = new KVConfigManager();
    await expect(kv.put('', 'k', 'v')).rejects.toThrow(/namespace is empty/);
    await expect(kv.put('ns', '', 'v')).rejects.toThrow(/key is empty/);
    // It used to be kept in memory and silently dropped from the file on the next save.
    await expect(kv.put('__proto__', 'k', 'v')).rejects.toThrow(/KV namespace "__proto__" is reserved/);
    await expect(kv.put('ns', 'constructor', 'v')).rejects.toThrow(/KV key "constructor" is reserved/);
  });

  it('keeps at most MAX_KV_NAMESPACES namespaces and MAX_KV_KEYS_PER_NAMESPACE keys in one, replacing existing keys at the limit', async () => {
    const kv = new KVConfigManager();
    for (let i = 0; i < MAX_KV_KEYS_PER_NAMESPACE; i++) await kv.put('ns', `k${i}`, 'v');
    await expect(kv.put('ns', 'one-more', 'v')).rejects.toThrow(/holds 10000 keys, the most it keeps/);
    await kv.put('ns', 'k0', 'changed');
    expect(kv.get('ns', 'k0')).toBe('changed');
    for (let i = 1; i < MAX_KV_NAMESPACES; i++) await kv.put(`ns${i}`, 'k', 'v');
    await expect(kv.put('one-more-namespace', 'k', 'v')).rejects.toThrow(/holds 1024 KV namespaces/);
  });
});
