/**
 * One streamed `docker save`, read once, straight through, into the layer cache (layer-supply.ts decides when one
 * runs): small files (configs, manifests, tiny layers) are kept in memory; a big layer file is compressed as it
 * streams (compress.ts) and cached under the diffID its hash turns out to be, or only hashed, or read past when its
 * size says it is a layer the cache holds (save-plan.ts). The save stops as soon as it has brought all the release
 * needs. A containerd store may save a layer gzipped: it is unpacked on the way and checked like every layer.
 *
 * Where the save's bytes come from is a SaveSource: the local engine in a release, a prepared tar in a unit test.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { debug } from '../util/debug.js';
import { BoxshipError } from '../util/errors.js';
import { shortDigest } from '../util/short.js';
import { compressor } from './compress.js';
import { compressionOf, saveLayout } from './save-format.js';
import { passesBySize, sameSize } from './save-plan.js';
import type { SupplyState } from './supply-state.js';

/** Files of a save up to this size are kept in memory (configs, manifests, tiny layers). */
const SMALL = 1 << 20;

/** Where `docker save <image>` comes from: a tar stream of the image (either format save-format.ts reads). */
export interface SaveSource {
  save(imageId: string): Promise<Readable>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * One streamed save (`early`: a save already under way, used instead of starting one); returns the needed layers it
 * only hashed (the cache seemed to hold them) that turned out to be layers the cache lacks.
 */
export async function saveOnce(state: SupplyState, source: SaveSource, early: Promise<Readable> | undefined, skipBySize: boolean): Promise<string[]> {
  const { imageId, diffIds, layers, config, stats } = state;
  const t0 = Date.now();
  stats.saves++;
  debug(`docker save ${shortDigest(imageId)}: started (save ${stats.saves})`);
  const small = new Map<string, Buffer>();
  const seen = new Set<string>();
  let stopped = false;
  const skipped: string[] = [];
  let total = 0;
  let stream: Readable;
  try {
    stream = await (early ?? source.save(imageId));
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
          const d = sha256(buf);
          if (layers.has(d)) await takeLayer(state, d, buf.length, [buf], seen);
          // The config, known by its digest when it is the image ID (a classic engine's save): ready now. On a
          // containerd store the image ID names the manifest, which is no config: that one waits for the layout.
          else if (d === imageId && !config.settled && isConfig(buf)) await takeConfig(state, buf);
          if (await complete(state)) return stop();
          return next();
        }
        await bigEntry(state, body as AsyncIterable<Buffer>, size, skipBySize, seen, skipped);
        if (await complete(state)) return stop();
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
  if (!config.settled) await takeConfig(state, cfg);
  for (const [i, p] of layout.layerPaths.entries()) {
    const d = diffIds[i]!;
    const buf = small.get(p);
    if (buf && compressionOf(buf.subarray(0, 4)) === 'gzip' && !seen.has(d)) {
      const raw = gunzipSync(buf);
      if (sha256(raw) !== d) throw new BoxshipError(`a saved layer unpacks to another digest than the image config's ${d}`);
      await takeLayer(state, d, raw.length, [raw], seen);
    }
  }
  return skipped;

  function stop(): void {
    stopped = true;
    stream.destroy();
    ex.destroy();
  }
}

/**
 * Whether the save has brought all this release needs: the config, the size of every layer (for the manifest)
 * and every layer a host lacks. Then the rest of it is not read.
 */
async function complete(state: SupplyState): Promise<boolean> {
  if (!state.config.settled) return false;
  for (const sz of state.sizes.values()) if (!sz.settled) return false;
  for (const d of await state.needed.promise) if (!state.settled(d) && (!state.cached.has(d) || !(await state.verify(d)))) return false;
  return true;
}

function isConfig(buf: Buffer): boolean {
  try {
    return Array.isArray((JSON.parse(buf.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids);
  } catch {
    return false;
  }
}

/** The image config from the save: checked against the layers `docker image inspect` lists, cached. */
async function takeConfig(state: SupplyState, cfg: Buffer): Promise<void> {
  const cfgDiffs = (JSON.parse(cfg.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  if (cfgDiffs.join() !== state.diffIds.join())
    throw new BoxshipError(`the saved image config lists other layers than docker image inspect (${cfgDiffs.length} against ${state.diffIds.length})`);
  state.config.resolve(cfg);
  const w = await state.cache.writer('config', state.imageId);
  await w.write(cfg);
  await w.commit(cfg.length);
}

/** A layer's raw bytes are all here (small layers): compress them unless they are cached or not needed. */
async function takeLayer(state: SupplyState, d: string, size: number, chunks: Buffer[], seen: Set<string>): Promise<void> {
  seen.add(d);
  state.setSize(d, size);
  if (state.settled(d)) return;
  if (state.cached.has(d) && (!(await state.needed.promise).has(d) || (await state.verify(d)))) return;
  const w = await state.cache.writer(state.codec, d);
  const comp = compressor(state.codec, (c) => w.write(c));
  try {
    for (const x of chunks) await comp.write(x);
    await comp.end();
    state.compressed(d, size, await w.commit(size));
  } catch (err) {
    comp.abort();
    await w.abort();
    throw err;
  }
}

/** A layer file too big to hold: hashed as it streams, and compressed as it streams unless it need not be. */
async function bigEntry(state: SupplyState, body: AsyncIterable<Buffer>, size: number, skipBySize: boolean, seen: Set<string>, skipped: string[]) {
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

  // Read past as a cached layer of its size: not even hashed (a wrong guess leaves a layer or a size missing, and
  // one more save, hashing everything, brings it).
  const candidates = !gz && skipBySize ? sameSize(state.cached, size) : [];
  let settled: boolean[] = [];
  if (candidates.length) {
    const need = await state.needed.promise;
    settled = await Promise.all(candidates.map(async (d) => !need.has(d) || (await state.verify(d))));
  }
  if (passesBySize({ gzip: gz, skipBySize, settled })) {
    for await (const c of raw) void c;
    await feeding;
    return;
  }
  const hash = createHash('sha256');
  let n = 0;
  // No host lacks anything the cache lacks: only hashed, to learn the layer's size.
  if ((await state.missingNeeded()).length === 0) {
    for await (const c of raw) {
      hash.update(c as Buffer);
      n += (c as Buffer).length;
    }
    await feeding;
    const d = `sha256:${hash.digest('hex')}`;
    if (state.layers.has(d)) {
      seen.add(d);
      state.setSize(d, n);
      // Only hashed, but it is a layer the cache does not validly hold, and a host needs it: missed.
      if (!state.cached.has(d) && (await state.needed.promise).has(d)) skipped.push(d);
    }
    return;
  }
  // The key is known only at the end: the entry is committed under the diffID its bytes hash to.
  const writer = await state.cache.writer(state.codec);
  const comp = compressor(state.codec, (c) => writer.write(c));
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
  if (!state.layers.has(d)) {
    await writer.abort();
    return;
  }
  seen.add(d);
  state.setSize(d, n);
  state.compressed(d, n, await writer.commit(n, d));
}
