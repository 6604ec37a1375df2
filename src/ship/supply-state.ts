/**
 * What one release's layer supply knows so far, shared by the code that hands layers out (layer-supply.ts) and the
 * code that reads a `docker save` into the cache (save-stream.ts): a promise per layer, per layer size and for the
 * image config, resolved as the cache or the save brings them; which valid cache entries there are (each checked once,
 * when a host needs it); and the counts the release summary shows. Its own module so the save reader does not reach
 * into the supply's closure, and the supply does not hold the tar reader.
 */
import { debug } from '../util/debug.js';
import { shortDigest } from '../util/short.js';
import type { CacheEntry, Codec, LayerCache } from './cache.js';

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

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
  settled: boolean;
}

/** A promise resolved from outside, once (later calls are ignored); an unawaited rejection is not unhandled. */
export function deferred<T>(): Deferred<T> {
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

export class SupplyState {
  readonly unique: string[];
  readonly layers: Map<string, Deferred<CacheEntry>>;
  readonly sizes: Map<string, Deferred<number>>;
  readonly config = deferred<Buffer>();
  /** The layers some host lacks, known once every host's inventory is in. */
  readonly needed = deferred<Set<string>>();
  readonly stats: SupplyStats = { fromCache: [], compressed: [], corrupt: [], saveSeconds: 0, saves: 0 };
  /** Valid cache entries (checked when needed), by diffID. */
  readonly cached = new Map<string, CacheEntry>();
  /** Verification of a cached entry, started when a host needs it. */
  private readonly verified = new Map<string, Promise<boolean>>();

  constructor(
    readonly imageId: string,
    readonly diffIds: string[],
    readonly codec: Codec,
    readonly cache: LayerCache,
    private readonly onCorrupt?: (diffId: string) => void,
  ) {
    this.unique = [...new Set(diffIds)];
    this.layers = new Map(this.unique.map((d) => [d, deferred<CacheEntry>()]));
    this.sizes = new Map(this.unique.map((d) => [d, deferred<number>()]));
  }

  setSize(d: string, n: number): void {
    this.sizes.get(d)?.resolve(n);
  }

  /** Whether this layer has been handed out already (from the cache or compressed in this release). */
  settled(d: string): boolean {
    return this.layers.get(d)!.settled;
  }

  /** Everything anyone waits on fails with this error. */
  fail(err: Error): void {
    for (const d of this.layers.values()) d.reject(err);
    for (const d of this.sizes.values()) d.reject(err);
    this.config.reject(err);
  }

  /** Whether the cached entry of a layer holds the bytes its header says (checked once); a corrupt one is removed. */
  verify(d: string): Promise<boolean> {
    let v = this.verified.get(d);
    if (!v) {
      const e = this.cached.get(d)!;
      v = this.cache.verify(e).then(async (ok) => {
        if (!ok) {
          this.cached.delete(d);
          this.stats.corrupt.push(d);
          this.onCorrupt?.(d);
          await this.cache.remove(e);
        }
        return ok;
      });
      this.verified.set(d, v);
    }
    return v;
  }

  /** Layers some host lacks and the cache does not (validly) hold: a save must bring them. */
  async missingNeeded(): Promise<string[]> {
    const need = await this.needed.promise;
    const out: string[] = [];
    for (const d of need) if (!this.cached.has(d) || !(await this.verify(d))) out.push(d);
    return out;
  }

  /** Needed layers not handed out yet that the cache does not validly hold. */
  async lacking(): Promise<string[]> {
    return (await this.missingNeeded()).filter((d) => !this.settled(d));
  }

  /** A layer just compressed into the cache: valid by construction, counted, and handed to whoever waits for it. */
  compressed(d: string, size: number, entry: CacheEntry): void {
    this.cached.set(d, entry);
    this.verified.set(d, Promise.resolve(true));
    this.stats.compressed.push({ diffId: d, size, bytes: entry.bytes });
    debug(`compressed layer ${shortDigest(d)}: ${size} -> ${entry.bytes} bytes (${this.codec})`);
    this.layers.get(d)!.resolve(entry);
  }
}
