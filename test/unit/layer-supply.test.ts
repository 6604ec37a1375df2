/**
 * The layer supply against a prepared `docker save` (a SaveSource standing in for the engine) and a real cache in a
 * temp dir: a big file whose size is a cached layer's is read past as that layer, and when its bytes were another
 * layer (one a host needs), that is found after the save and exactly one more save brings it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LayerCache } from '../../src/ship/cache.js';
import { layerSupply } from '../../src/ship/layer-supply.js';
import type { SaveSource } from '../../src/ship/save-stream.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** Bigger than what a save keeps in memory: a file of this size is streamed, and its size may be taken for a layer's. */
const BIG = (1 << 20) + 512;

/** A legacy-format `docker save` of an image with these layers, in the order the engine writes it. */
async function saveTar(layers: Buffer[]): Promise<{ tar: Buffer; imageId: string; diffIds: string[] }> {
  const diffIds = layers.map(sha);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }));
  const imageId = sha(config);
  const p = pack();
  const paths = layers.map((_, i) => `${String(i).repeat(64)}/layer.tar`);
  layers.forEach((l, i) => p.entry({ name: paths[i]! }, l));
  p.entry({ name: `${imageId.slice(7)}.json` }, config);
  p.entry({ name: 'manifest.json' }, Buffer.from(JSON.stringify([{ Config: `${imageId.slice(7)}.json`, Layers: paths }])));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return { tar: Buffer.concat(chunks), imageId, diffIds };
}

/** A SaveSource that hands out the tar in 64 KiB chunks, as the engine would, and counts the saves. */
function source(tar: Buffer): SaveSource & { saves: number } {
  const s = {
    saves: 0,
    save: async () => {
      s.saves++;
      const parts: Buffer[] = [];
      for (let i = 0; i < tar.length; i += 64 << 10) parts.push(tar.subarray(i, i + (64 << 10)));
      return Readable.from(parts, { objectMode: false });
    },
  };
  return s;
}

async function cached(cache: LayerCache, diffId: string, bytes: Buffer) {
  const w = await cache.writer('none', diffId);
  await w.write(bytes);
  return w.commit(bytes.length);
}

async function stored(cache: LayerCache, e: Parameters<LayerCache['read']>[0]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of cache.read(e)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An image of layers x and y, x cached, y needed by a host: the supply, once all its work is over. */
async function secondLayerNeeded(x: Buffer, y: Buffer) {
  const { tar, imageId, diffIds } = await saveTar([x, y]);
  const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-supply-')));
  await cached(cache, diffIds[0]!, x);
  const src = source(tar);
  const supply = layerSupply({ source: src, imageId, diffIds, codec: 'none', cache });
  supply.need([diffIds[1]!]);
  await supply.done();
  return { src, supply, cache, diffIds };
}

describe('layer supply', () => {
  it('finds a layer whose bytes are not the cached layer its size matched, and saves exactly once more to bring it', async () => {
    const { src, supply, cache, diffIds } = await secondLayerNeeded(Buffer.alloc(BIG, 1), Buffer.alloc(BIG, 2));
    // The first save read y's file past as x (same size); y was still missing after it: one more save, no third.
    expect(src.saves).toBe(2);
    expect(supply.stats.saves).toBe(2);
    expect(supply.stats.compressed.map((c) => c.diffId)).toContain(diffIds[1]);
    const e = await supply.layer(diffIds[1]!);
    expect(sha(await stored(cache, e))).toBe(diffIds[1]);
    expect(await supply.size(diffIds[1]!)).toBe(BIG);
    expect(JSON.parse((await supply.config()).toString()).rootfs.diff_ids).toEqual(diffIds);
  });

  it('saves once when no size misleads: the cached layer is read past, the needed one compressed as it streams', async () => {
    const { src, supply, cache, diffIds } = await secondLayerNeeded(Buffer.alloc(BIG, 1), Buffer.alloc(BIG + 1, 2));
    expect(src.saves).toBe(1);
    expect(supply.stats.compressed.map((c) => c.diffId)).toEqual([diffIds[1]]);
    expect(sha(await stored(cache, await supply.layer(diffIds[1]!)))).toBe(diffIds[1]);
  });

  it('runs no save when the cache holds the config and every layer', async () => {
    const x = Buffer.alloc(BIG, 1);
    const { tar, imageId, diffIds } = await saveTar([x]);
    const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-supply-')));
    await cached(cache, diffIds[0]!, x);
    const first = layerSupply({ source: source(tar), imageId, diffIds, codec: 'none', cache });
    first.need(diffIds);
    await first.done();
    const src = source(tar);
    const again = layerSupply({ source: src, imageId, diffIds, codec: 'none', cache });
    again.need(diffIds);
    await again.done();
    expect(src.saves).toBe(0);
    expect(again.stats.fromCache).toEqual(diffIds);
  });
});
