/**
 * The deployer's content-addressed cache of compressed layers, kept between releases, so a layer is compressed once
 * ever (not once per host, not once per release) and a code-only change reads and compresses only its new layer.
 *
 * One file per (codec, diffID): `<dir>/<codec>/<diffID hex>`, a JSON header line (diffID, uncompressed size,
 * compressed size and sha256) followed by the compressed bytes, written to a temp file and renamed into place, so a
 * reader sees a whole entry or none, and two releases (of one service or of several) writing the same layer at once
 * both write the same bytes and the last rename wins. An entry whose bytes do not hash to its header's sha256 (a torn
 * disk write, a flipped bit, a hand edit) is reported, removed and rebuilt from `docker save`. The image configs sit
 * beside the layers (`config/<image id hex>`), checked the same way. Everything here can be deleted at any time: the
 * next release rebuilds what it needs. `prune` keeps the cache under a size and an age, least recently used first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Codec = 'gzip' | 'zstd' | 'none';

export interface CacheEntry {
  codec: Codec | 'config';
  /** The layer's diffID (or the image ID for a config). */
  key: string;
  /** Uncompressed size (the layer tar's exact length). */
  size: number;
  /** Bytes of the stored (compressed) form. */
  bytes: number;
  /** sha256 hex of the stored form. */
  sha256: string;
  /** Absolute path of the entry file. */
  file: string;
  /** Where the stored bytes start in the file (after the header line). */
  offset: number;
}

/** Default: $BOXSHIP_CACHE_DIR, else $XDG_CACHE_HOME/boxship/layers, else ~/.cache/boxship/layers. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOXSHIP_CACHE_DIR) return env.BOXSHIP_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'boxship', 'layers');
}

/** Bounds: 10 GiB and 30 days unless BOXSHIP_CACHE_MAX_BYTES / BOXSHIP_CACHE_MAX_DAYS say otherwise. */
export function cacheLimits(env: NodeJS.ProcessEnv = process.env): { maxBytes: number; maxAgeMs: number } {
  const n = (v: string | undefined, d: number) => (v && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : d);
  return { maxBytes: n(env.BOXSHIP_CACHE_MAX_BYTES, 10 * 2 ** 30), maxAgeMs: n(env.BOXSHIP_CACHE_MAX_DAYS, 30) * 86_400_000 };
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');
const HEADER_MAX = 4096;

export class LayerCache {
  constructor(readonly dir: string = defaultCacheDir()) {}

  private path(codec: CacheEntry['codec'], key: string): string {
    return join(this.dir, codec, hex(key));
  }

  /** The entry's header, or undefined when there is none (or it cannot be read: then it is rebuilt). */
  async lookup(codec: CacheEntry['codec'], key: string): Promise<CacheEntry | undefined> {
    const file = this.path(codec, key);
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      fh = await open(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const buf = Buffer.alloc(HEADER_MAX);
      const { bytesRead } = await fh.read(buf, 0, HEADER_MAX, 0);
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl < 0) return undefined;
      const h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { key?: string; size?: number; bytes?: number; sha256?: string };
      const { size: fileSize } = await fh.stat();
      if (h.key !== key || typeof h.size !== 'number' || typeof h.bytes !== 'number' || typeof h.sha256 !== 'string') return undefined;
      // A torn write (the file shorter or longer than its header says) is a miss, not an error.
      if (fileSize !== nl + 1 + h.bytes) return undefined;
      return { codec, key, size: h.size, bytes: h.bytes, sha256: h.sha256, file, offset: nl + 1 };
    } catch {
      return undefined;
    } finally {
      await fh.close();
    }
  }

  /** True when the stored bytes hash to the header's sha256. Marks the entry used (for pruning). */
  async verify(entry: CacheEntry): Promise<boolean> {
    const hash = createHash('sha256');
    try {
      for await (const chunk of createReadStream(entry.file, { start: entry.offset, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    } catch {
      return false;
    }
    const ok = hash.digest('hex') === entry.sha256;
    if (ok) await utimes(entry.file, new Date(), new Date()).catch(() => {});
    return ok;
  }

  /** The stored bytes. */
  read(entry: CacheEntry): NodeJS.ReadableStream {
    return createReadStream(entry.file, { start: entry.offset, highWaterMark: 1 << 20 });
  }

  async remove(entry: Pick<CacheEntry, 'codec' | 'key'>): Promise<void> {
    await rm(this.path(entry.codec, entry.key), { force: true });
  }

  /**
   * A writer for a new entry: append the stored bytes with write(), then commit() with the uncompressed size; the
   * entry appears atomically (rename). abort() drops it. The header is written last, into space reserved first.
   */
  async writer(codec: CacheEntry['codec'], key?: string): Promise<CacheWriter> {
    const tmpDir = join(this.dir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(this.dir, codec), { recursive: true });
    const tmp = join(tmpDir, `${codec}.${process.pid}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'w');
    const hash = createHash('sha256');
    let bytes = 0;
    // Reserve the header's room: a fixed-width line, padded with spaces before its newline.
    await fh.write(Buffer.alloc(HEADER_PAD, 0x20), 0, HEADER_PAD, 0);
    const out = blockWriter(fh, HEADER_PAD);
    return {
      write: (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        return out.write(chunk);
      },
      commit: async (size: number, as?: string) => {
        await out.flush();
        const k = as ?? key;
        if (!k) throw new Error('a cache entry needs a key');
        const final = this.path(codec, k);
        const sha256 = hash.digest('hex');
        const line = Buffer.from(JSON.stringify({ key: k, size, bytes, sha256, codec }));
        if (line.length > HEADER_PAD - 1) throw new Error('cache header too long');
        await fh.write(line, 0, line.length, 0);
        await fh.write(Buffer.from('\n'), 0, 1, HEADER_PAD - 1);
        await fh.close();
        await rename(tmp, final);
        return { codec, key: k, size, bytes, sha256, file: final, offset: HEADER_PAD };
      },
      abort: async () => {
        await out.flush().catch(() => {});
        await fh.close().catch(() => {});
        await rm(tmp, { force: true });
      },
    };
  }

  /**
   * Keeps the cache under maxBytes and maxAgeMs: drops entries unused for longer than the age, then the least recently
   * used until under the size; and temp files of writers that died (older than a day). Never fails a release.
   */
  async prune(limits: { maxBytes: number; maxAgeMs: number } = cacheLimits(), now = Date.now()): Promise<{ removed: number; bytes: number }> {
    const files: { file: string; size: number; used: number }[] = [];
    let removed = 0;
    for (const sub of await readdir(this.dir).catch(() => [] as string[])) {
      const dir = join(this.dir, sub);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const file = join(dir, name);
        const s = await stat(file).catch(() => undefined);
        if (!s?.isFile()) continue;
        if (sub === 'tmp') {
          if (now - s.mtimeMs > 86_400_000) await rm(file, { force: true }).then(() => removed++);
          continue;
        }
        files.push({ file, size: s.size, used: s.mtimeMs });
      }
    }
    files.sort((a, b) => b.used - a.used);
    let total = 0;
    for (const f of files) {
      if (now - f.used > limits.maxAgeMs || total + f.size > limits.maxBytes) {
        await rm(f.file, { force: true });
        removed++;
      } else total += f.size;
    }
    return { removed, bytes: total };
  }
}

const HEADER_PAD = 512;

/** Writes are gathered into blocks of this size, and a writer waits for the disk only past this many pending bytes. */
const BLOCK = 1 << 20;
const MAX_PENDING = 8 << 20;

/**
 * Appends to a file from `start` in 1 MiB blocks, one write in flight after another, and makes its caller wait only
 * when 8 MiB are pending: a `docker save` arrives in 16-64 KiB chunks, and waiting for each chunk's own write held
 * the save's reader up on the disk's round trips (a 205 MB image with ship.compression none, on 2 cores: its layers
 * were cached in 2.7-3.3 s, now 1.5-2.3 s). A failed write fails the next write() or flush().
 */
function blockWriter(fh: FileHandle, start: number): { write(chunk: Buffer): Promise<void>; flush(): Promise<void> } {
  let pos = start;
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  let pending = 0;
  let chain = Promise.resolve();
  let failed: Error | undefined;
  const send = () => {
    if (!gatheredBytes) return;
    const block = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered);
    const at = pos;
    pos += block.length;
    pending += block.length;
    gathered = [];
    gatheredBytes = 0;
    chain = chain.then(async () => {
      await fh.write(block, 0, block.length, at);
      pending -= block.length;
    });
    chain.catch((e: Error) => (failed = e));
  };
  return {
    write(chunk) {
      gathered.push(chunk);
      gatheredBytes += chunk.length;
      if (gatheredBytes >= BLOCK) send();
      if (failed) return Promise.reject(failed);
      return pending > MAX_PENDING ? chain : Promise.resolve();
    },
    flush() {
      send();
      return chain;
    },
  };
}

export interface CacheWriter {
  write(chunk: Buffer): Promise<void>;
  /** `as`: the key, when it was not known when the writer was made (a layer's diffID is its bytes' hash). */
  commit(size: number, as?: string): Promise<CacheEntry>;
  abort(): Promise<void>;
}
