/**
 * Where the compressed layers of one release come from: the cache (cache.ts) for every layer compressed before, and
 * one streamed `docker save` for the rest (save-stream.ts), compressed as it streams into the cache, each layer once
 * whatever the number of hosts. Nothing is spooled: the save is read once, from the engine, straight through.
 *
 * Which layer a file of the save is can be known only at its end (its sha256 is its diffID; the legacy format names
 * layer folders by v1 IDs and says which is which in manifest.json, written last). So when a layer file starts, its
 * size decides: the size of a layer the cache holds (and that is either valid there or needed by no host) means it is
 * only hashed; any other size is compressed as it streams and cached under the diffID its hash turns out to be. In
 * the rare case a size matched but the hash did not, the layer is missed and one more save compresses it
 * (save-plan.ts decides). When the cache holds every layer the hosts lack and the image config, there is no
 * `docker save` at all.
 *
 * Either image store may be the deployer's (save-format.ts); a containerd store may save a layer gzipped, which is
 * unpacked on the way and checked against the config's diffID like every layer.
 */
import type { Readable } from 'node:stream';
import { BoxshipError } from '../util/errors.js';
import type { CacheEntry, Codec, LayerCache } from './cache.js';
import { resave } from './save-plan.js';
import { type SaveSource, saveOnce } from './save-stream.js';
import { deferred, SupplyState, type SupplyStats } from './supply-state.js';

export interface LayerSupply {
  codec: Codec;
  diffIds: string[];
  /** The image config exactly as saved (sha256 = the classic image ID). */
  config(): Promise<Buffer>;
  /** A layer's exact uncompressed size, once known (from the cache or the save). */
  size(diffId: string): Promise<number>;
  /** The compressed layer, ready to send. */
  layer(diffId: string): Promise<CacheEntry>;
  /** Tell the supply which layers some host lacks; call once, when every host's inventory is in. */
  need(diffIds: Iterable<string>): void;
  stats: SupplyStats;
  /** Resolves when all work (saves, cache writes) is over; rejects with the first failure. */
  done(): Promise<void>;
  cache: LayerCache;
}

interface SupplyOptions {
  /** Where a `docker save` of the image comes from (the local engine). */
  source: SaveSource;
  /** The ID the deployer's engine gives the image. */
  imageId: string;
  /** From `docker image inspect`: RootFS.Layers. */
  diffIds: string[];
  codec: Codec;
  cache: LayerCache;
  /** A corrupt cache entry was found (it is rebuilt). */
  onCorrupt?: (diffId: string) => void;
  /**
   * A `docker save` already under way (started while the hosts were asked what they have, when the cache lacks the
   * image config so a save is certain); used by the first save, destroyed if none is needed.
   */
  firstSave?: Promise<Readable>;
}

export function layerSupply(opts: SupplyOptions): LayerSupply {
  const { source, imageId, diffIds, codec, cache } = opts;
  const state = new SupplyState(imageId, diffIds, codec, cache, opts.onCorrupt);
  const { unique, layers, sizes, config, needed, stats, cached } = state;
  const all = deferred<void>();
  const save = (skipBySize: boolean) => saveOnce(state, source, stats.saves === 0 ? opts.firstSave : undefined, skipBySize);

  const run = async () => {
    // What the cache holds: headers only; contents are checked when a host needs them.
    await Promise.all(
      unique.map(async (d) => {
        const e = await cache.lookup(codec, d);
        if (e) {
          cached.set(d, e);
          state.setSize(d, e.size);
        }
      }),
    );
    const cfg = await cache.lookup('config', imageId);
    let configBytes: Buffer | undefined;
    if (cfg && (await cache.verify(cfg))) {
      const chunks: Buffer[] = [];
      for await (const c of cache.read(cfg)) chunks.push(c as Buffer);
      configBytes = Buffer.concat(chunks);
      config.resolve(configBytes);
    }
    // Layers a host lacks that the cache holds: ready as soon as their bytes check out, whatever the save does.
    void needed.promise.then((need) => {
      for (const d of need) {
        if (!cached.has(d)) continue;
        void state.verify(d).then((ok) => {
          const l = layers.get(d)!;
          if (ok && !l.settled && cached.has(d)) {
            stats.fromCache.push(d);
            l.resolve(cached.get(d)!);
          }
        });
      }
    });
    const needSave = !configBytes || unique.some((d) => !cached.has(d));
    let missed: string[] = [];
    if (needSave) missed = await save(true);
    else
      opts.firstSave?.then(
        (st) => st.destroy(),
        () => {},
      );
    // Now every host's needs are known (the save waited for them, or we wait here).
    const lacking = await state.lacking();
    const sizeless = [...sizes.values()].some((sz) => !sz.settled);
    const next = resave({ missed, lacking, sizeless, corrupt: stats.corrupt });
    if (next.again) {
      // A size matched a cached layer but the bytes were another layer, or a cached layer turned out corrupt after
      // the save passed it: one more save, compressing whatever the cache does not validly hold.
      await save(next.skipBySize);
      const still = await state.lacking();
      if (still.length) throw new BoxshipError(`docker save of ${imageId} did not bring layer ${still[0]}`);
    }
    for (const d of await needed.promise) {
      const l = layers.get(d)!;
      if (!l.settled) {
        const e = cached.get(d)!;
        if (!stats.fromCache.includes(d)) stats.fromCache.push(d);
        l.resolve(e);
      }
    }
    // Layers no host needs resolve too (from the cache, whatever their state), so nobody waits forever.
    for (const [d, l] of layers) {
      const e = cached.get(d);
      if (e) l.resolve(e);
      else l.reject(new BoxshipError(`layer ${d} is not in the cache`));
    }
    for (const [d, sz] of sizes) {
      const e = cached.get(d);
      if (e) sz.resolve(e.size);
      else sz.reject(new BoxshipError(`the size of layer ${d} is unknown`));
    }
    if (!config.settled) throw new BoxshipError(`docker save of ${imageId} had no image config`);
  };

  void run().then(
    () => all.resolve(),
    (err: Error) => {
      state.fail(err);
      all.reject(err);
    },
  );

  return {
    codec,
    diffIds,
    cache,
    stats,
    config: () => config.promise,
    size: (d) => sizes.get(d)?.promise ?? Promise.reject(new Error(`layer ${d} is not in this image`)),
    layer: (d) => {
      const l = layers.get(d);
      if (!l) return Promise.reject(new Error(`layer ${d} is not in this image`));
      return l.promise;
    },
    need: (ds) => needed.resolve(new Set(ds)),
    done: () => all.promise,
  };
}
