/**
 * Where the compressed layers of one release come from: the cache (cache.ts) for every layer compressed before, and
 * one streamed `docker save` for the rest, compressed as it streams (compress.ts) into the cache, each layer once
 * whatever the number of hosts. Nothing is spooled: the save is read once, from the engine, straight through.
 *
 * Which layer a file of the save is can be known only at its end (its sha256 is its diffID; the legacy format names
 * layer folders by v1 IDs and says which is which in manifest.json, written last). So when a layer file starts, its
 * size decides: the size of a layer the cache holds (and that is either valid there or needed by no host) means it is
 * only hashed; any other size is compressed as it streams and cached under the diffID its hash turns out to be. In
 * the rare case a size matched but the hash did not, the layer is missed and one more save compresses it. When the
 * cache holds every layer the hosts lack and the image config, there is no `docker save` at all.
 *
 * Either image store may be the deployer's (save-format.ts); a containerd store may save a layer gzipped, which is
 * unpacked on the way and checked against the config's diffID like every layer.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import { debug } from '../util/debug.js';
import { BoxshipError } from '../util/errors.js';
import type { CacheEntry, Codec, LayerCache } from './cache.js';
import { compressor } from './compress.js';
import { compressionOf, saveLayout } from './save-format.js';

/** Files of a save up to this size are kept in memory (configs, manifests, tiny layers). */
const SMALL = 1 << 20;

export interface SupplyStats {
  /** Layers the hosts lacked that came from the cache. */
  fromCache: string[];
  /** Layers compressed in this release, with bytes before and after. */
  compressed: { diffId: string; size: number; bytes: number }[];
  /** Cache entries found corrupt (wrong digest): removed and rebuilt. */
  corrupt: string[];
  /** Seconds spent in `docker save` (0 when the cache made it unnecessary), and how many saves ran. */
  saveSeconds: number;
  saves: number;
  /** Uncompressed bytes of the save, when one ran. */
  saveBytes?: number;
}

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

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
  settled: boolean;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  d.promise.catch(() => {});
  d.resolve = (v) => {
    if (d.settled) return;
    d.settled = true;
    resolve(v);
  };
  d.reject = (e) => {
    if (d.settled) return;
    d.settled = true;
    reject(e);
  };
  return d;
}

export interface SupplyOptions {
  docker: Docker;
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
  const { docker, imageId, diffIds, codec, cache } = opts;
  const unique = [...new Set(diffIds)];
  const layers = new Map(unique.map((d) => [d, deferred<CacheEntry>()]));
  const sizes = new Map(unique.map((d) => [d, deferred<number>()]));
  const setSize = (d: string, n: number) => sizes.get(d)?.resolve(n);
  const config = deferred<Buffer>();
  const needed = deferred<Set<string>>();
  const all = deferred<void>();
  const stats: SupplyStats = { fromCache: [], compressed: [], corrupt: [], saveSeconds: 0, saves: 0 };
  /** Valid cache entries (checked when needed), by diffID. */
  const cached = new Map<string, CacheEntry>();
  /** Verification of a cached entry, started when a host needs it. */
  const verified = new Map<string, Promise<boolean>>();

  const fail = (err: Error) => {
    for (const d of layers.values()) d.reject(err);
    for (const d of sizes.values()) d.reject(err);
    config.reject(err);
    all.reject(err);
  };

  const verify = (d: string): Promise<boolean> => {
    let v = verified.get(d);
    if (!v) {
      const e = cached.get(d)!;
      v = cache.verify(e).then(async (ok) => {
        if (!ok) {
          cached.delete(d);
          stats.corrupt.push(d);
          opts.onCorrupt?.(d);
          await cache.remove(e);
        }
        return ok;
      });
      verified.set(d, v);
    }
    return v;
  };

  /** Layers some host lacks and the cache does not (validly) hold: the save must bring them. */
  const missingNeeded = async (): Promise<string[]> => {
    const need = await needed.promise;
    const out: string[] = [];
    for (const d of need) if (!cached.has(d) || !(await verify(d))) out.push(d);
    return out;
  };

  const run = async () => {
    // What the cache holds: headers only; contents are checked when a host needs them.
    await Promise.all(
      unique.map(async (d) => {
        const e = await cache.lookup(codec, d);
        if (e) {
          cached.set(d, e);
          setSize(d, e.size);
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
        void verify(d).then((ok) => {
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
    if (needSave) missed = await saveOnce(true);
    else
      opts.firstSave?.then(
        (st) => st.destroy(),
        () => {},
      );
    // Now every host's needs are known (the save waited for them, or we wait here).
    let lacking = (await missingNeeded()).filter((d) => !layers.get(d)!.settled);
    const sizeless = [...sizes.values()].some((sz) => !sz.settled);
    if (missed.length || lacking.length || sizeless) {
      // A size matched a cached layer but the bytes were another layer, or a cached layer turned out corrupt after
      // the save passed it: one more save, compressing whatever the cache does not validly hold.
      // Sizes still tell cached layers apart, unless a size already misled (then every unknown layer is compressed).
      await saveOnce(missed.length === 0 && !sizeless && lacking.every((d) => stats.corrupt.includes(d)));
      lacking = (await missingNeeded()).filter((d) => !layers.get(d)!.settled);
      if (lacking.length) throw new BoxshipError(`docker save of ${imageId} did not bring layer ${lacking[0]}`);
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

  /** One streamed save; returns the needed layers it skipped by size that turned out to be other bytes. */
  const saveOnce = async (skipBySize: boolean): Promise<string[]> => {
    const t0 = Date.now();
    stats.saves++;
    debug(`docker save ${imageId.slice(7, 19)}: started (save ${stats.saves})`);
    const small = new Map<string, Buffer>();
    const seen = new Set<string>();
    let stopped = false;
    const skipped: string[] = [];
    let total = 0;
    let stream: Readable;
    const early = stats.saves === 1 ? opts.firstSave : undefined;
    try {
      stream = early !== undefined ? await early : ((await docker.getImage(imageId).get()) as unknown as Readable);
    } catch (err) {
      throw new BoxshipError(`docker save of ${imageId} failed: ${(err as Error).message}`, {
        hint: 'is the local Docker engine running and does the image still exist?',
        cause: err,
      });
    }
    stream.on('data', (c: Buffer) => (total += c.length));
    const ex = extract();
    ex.on('entry', (header, body, next) => {
      void (async () => {
        try {
          if (header.type !== 'file') {
            for await (const _ of body) void _;
            return next();
          }
          const size = header.size ?? 0;
          if (size <= SMALL) {
            const chunks: Buffer[] = [];
            for await (const c of body) chunks.push(c as Buffer);
            const buf = Buffer.concat(chunks);
            small.set(header.name, buf);
            const d = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
            if (layers.has(d)) await takeLayer(d, buf.length, [buf]);
            // The config, known by its digest when it is the image ID (a classic engine's save): ready now. On a
            // containerd store the image ID names the manifest, which is no config: that one waits for the layout.
            else if (d === imageId && !config.settled && isConfig(buf)) await takeConfig(buf);
            if (await complete()) return stop();
            return next();
          }
          await bigEntry(body as AsyncIterable<Buffer>, size, skipBySize, seen, skipped);
          if (await complete()) return stop();
          next();
        } catch (err) {
          next(err as Error);
        }
      })();
    });
    try {
      await pipeline(stream, ex);
    } catch (err) {
      if (!stopped) throw err instanceof BoxshipError ? err : new BoxshipError(`docker save of ${imageId} failed: ${(err as Error).message}`, { cause: err });
    }
    stats.saveSeconds += (Date.now() - t0) / 1000;
    debug(`docker save: ${total} bytes in ${Date.now() - t0} ms${stopped ? ' (stopped once it had brought everything needed)' : ''}`);
    if (stopped) return skipped;
    stats.saveBytes = total;
    // Config, and tiny gzipped layers, from the layout.
    const layout = saveLayout((p) => small.get(p.replace(/^\.\//, '')));
    const cfg = small.get(layout.configPath);
    if (!cfg) throw new BoxshipError(`docker save output has no ${layout.configPath}`);
    if (!config.settled) await takeConfig(cfg);
    for (const [i, p] of layout.layerPaths.entries()) {
      const d = diffIds[i]!;
      const buf = small.get(p);
      if (buf && compressionOf(buf.subarray(0, 4)) === 'gzip' && !seen.has(d)) {
        const raw = gunzipSync(buf);
        if (`sha256:${createHash('sha256').update(raw).digest('hex')}` !== d)
          throw new BoxshipError(`a saved layer unpacks to another digest than the image config's ${d}`);
        await takeLayer(d, raw.length, [raw]);
      }
    }
    return skipped;

    /**
     * Whether the save has brought all this release needs: the config, the size of every layer (for the manifest)
     * and every layer a host lacks. Then the rest of it is not read.
     */
    async function complete(): Promise<boolean> {
      if (!config.settled) return false;
      for (const sz of sizes.values()) if (!sz.settled) return false;
      for (const d of await needed.promise) if (!layers.get(d)!.settled && (!cached.has(d) || !(await verify(d)))) return false;
      return true;
    }
    function stop(): void {
      stopped = true;
      stream.destroy();
      ex.destroy();
    }

    /** A layer's raw bytes are all here (small layers): compress them unless they are cached or not needed. */
    async function takeLayer(d: string, size: number, chunks: Buffer[]) {
      seen.add(d);
      setSize(d, size);
      if (layers.get(d)!.settled) return;
      if (cached.has(d) && (!(await needed.promise).has(d) || (await verify(d)))) return;
      const entry = await compressInto(d, async (c) => {
        for (const x of chunks) await c.write(x);
      });
      layers.get(d)!.resolve(entry);
    }
  };

  function isConfig(buf: Buffer): boolean {
    try {
      return Array.isArray((JSON.parse(buf.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids);
    } catch {
      return false;
    }
  }

  /** The image config from the save: checked against the layers `docker image inspect` lists, cached. */
  async function takeConfig(cfg: Buffer): Promise<void> {
    const cfgDiffs = (JSON.parse(cfg.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    if (cfgDiffs.join() !== diffIds.join())
      throw new BoxshipError(`the saved image config lists other layers than docker image inspect (${cfgDiffs.length} against ${diffIds.length})`);
    config.resolve(cfg);
    const w = await cache.writer('config', imageId);
    await w.write(cfg);
    await w.commit(cfg.length);
  }

  /** Compresses one layer's bytes (fed by `feed`) into a cache entry; returns it. */
  async function compressInto(d: string, feed: (c: { write(b: Buffer): Promise<void> }) => Promise<void>): Promise<CacheEntry> {
    const w = await cache.writer(codec, d);
    const comp = compressor(codec, (c) => w.write(c));
    let size = 0;
    try {
      await feed({
        write: (b) => {
          size += b.length;
          return comp.write(b);
        },
      });
      await comp.end();
      const e = await w.commit(size);
      cached.set(d, e);
      verified.set(d, Promise.resolve(true));
      stats.compressed.push({ diffId: d, size, bytes: e.bytes });
      debug(`compressed layer ${d.slice(7, 19)}: ${size} -> ${e.bytes} bytes (${codec})`);
      return e;
    } catch (err) {
      comp.abort();
      await w.abort();
      throw err;
    }
  }

  /** A layer file too big to hold: hashed as it streams, and compressed as it streams unless its size says cached. */
  async function bigEntry(body: AsyncIterable<Buffer>, size: number, skipBySize: boolean, seen: Set<string>, skipped: string[]) {
    const it = body[Symbol.asyncIterator]();
    const first = await it.next();
    const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
    const kind = compressionOf(head.subarray(0, 4));
    if (kind === 'zstd')
      throw new BoxshipError('a layer is saved zstd-compressed, which boxship cannot unpack', {
        hint: 'build the image with gzip or uncompressed layers (the default)',
      });
    const gz = kind === 'gzip';
    async function* entryBytes(): AsyncGenerator<Buffer> {
      if (first.done) return;
      yield head;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield n.value as Buffer;
      }
    }
    // The raw layer bytes: the entry itself, or it gunzipped.
    let raw: AsyncIterable<Buffer> = entryBytes();
    let feeding: Promise<void> = Promise.resolve();
    if (gz) {
      const gunzip = createGunzip();
      feeding = pipeline(Readable.from(entryBytes()), gunzip);
      feeding.catch((e: Error) => gunzip.destroy(e));
      raw = gunzip;
    }

    let skip = false;
    /** Skipped because its size is a cached layer's: not even hashed (a wrong guess leaves a layer or a size missing,
     * and one more save, hashing everything, brings it). */
    let bySize = false;
    if (!gz && skipBySize) {
      const candidates = [...cached.entries()].filter(([, e]) => e.size === size).map(([d]) => d);
      if (candidates.length) {
        const need = await needed.promise;
        skip = bySize = (await Promise.all(candidates.map(async (d) => !need.has(d) || (await verify(d))))).every(Boolean);
      }
    }
    if (!skip && (await missingNeeded()).length === 0) skip = true; // no host lacks anything the cache lacks
    const hash = createHash('sha256');
    if (bySize) {
      for await (const c of raw) void c;
      await feeding;
      return;
    }
    if (skip) {
      let n = 0;
      for await (const c of raw) {
        hash.update(c as Buffer);
        n += (c as Buffer).length;
      }
      await feeding;
      const d = `sha256:${hash.digest('hex')}`;
      if (layers.has(d)) {
        seen.add(d);
        setSize(d, n);
        // Skipped by size but it is a layer the cache does not validly hold, and a host needs it: missed.
        if (!cached.has(d) && (await needed.promise).has(d)) skipped.push(d);
      }
      return;
    }
    // The key is known only at the end: the entry is committed under the diffID its bytes hash to.
    const writer = await cache.writer(codec);
    const comp = compressor(codec, (c) => writer.write(c));
    let n = 0;
    try {
      for await (const c of raw) {
        hash.update(c as Buffer);
        n += (c as Buffer).length;
        await comp.write(c as Buffer);
      }
      await feeding;
      await comp.end();
    } catch (err) {
      comp.abort();
      await writer.abort();
      throw err;
    }
    const d = `sha256:${hash.digest('hex')}`;
    if (!layers.has(d)) {
      await writer.abort();
      return;
    }
    seen.add(d);
    setSize(d, n);
    const entry = await writer.commit(n, d);
    cached.set(d, entry);
    verified.set(d, Promise.resolve(true));
    stats.compressed.push({ diffId: d, size: n, bytes: entry.bytes });
    debug(`compressed layer ${d.slice(7, 19)}: ${n} -> ${entry.bytes} bytes (${codec})`);
    layers.get(d)!.resolve(entry);
  }

  void run().then(
    () => all.resolve(),
    (err: Error) => fail(err),
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
