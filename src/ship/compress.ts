/**
 * The codecs layers travel in, each producing a stream that concatenates into a valid stream of its kind: a
 * multi-member gzip stream (RFC 1952) and a multi-frame zstd stream decompress to the concatenation of their parts,
 * so a host's upload is put together from members compressed once, at different times, for different hosts.
 *
 * - gzip (every Docker loads it): ISA-L's `igzip` when the deployer has it (Debian package `isal`), one process per
 *   layer streaming; else zlib level 1, the input cut into 4 MiB pieces compressed as separate members on libuv's
 *   thread pool, so every core works on one layer (the cost is a few hundred bytes per piece). Either makes valid
 *   gzip members, so a cache entry made by one concatenates with tar headers made by the other.
 * - zstd (Docker 23+ loads it; Docker 20.10 does not): the local `zstd` program, multi-threaded.
 * - none: the bytes as they are (a link faster than the codec).
 * Small pieces (tar headers, manifests) are compressed in-process: zlib for gzip, a raw-block frame for zstd.
 */
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCb, gzipSync } from 'node:zlib';
import type { Codec } from './cache.js';
import type { Compressor } from './compressor.js';
import { hasProgram, programCompressor } from './program.js';

const gzipAsync = promisify(gzipCb);

const GZIP_LEVEL = 1;
/**
 * igzip's level, measured on a 205 MB `docker save` (2 cores): -1 82.0 MB in 0.38 s, -2 80.8 MB in 0.41 s, -3 79.5 MB
 * in 0.57 s (zlib -1 in pieces: 79.6 MB in 2.4 s). -3 costs 0.2 s of one core more than -1 and sends 2.5 MB less
 * (0.2 s per copy on a 100 Mbit/s uplink); a layer is compressed once, then every release takes it from the cache.
 */
const IGZIP_LEVEL = 3;
const ZSTD_LEVEL = 3;
const PIECE = 4 << 20;

/** Whether the deployer has the zstd program (checked once). */
export const zstdAvailable = (): boolean => hasProgram('zstd');

/** Whether the deployer has ISA-L's igzip (Debian package `isal`), which then makes every gzip layer (checked once). */
export const igzipAvailable = (): boolean => hasProgram('igzip');

/** What compresses layers of this codec on this machine (for the release summary). */
export function compressorName(codec: Codec): 'igzip' | 'zlib' | 'zstd' | 'none' {
  if (codec === 'gzip') return igzipAvailable() ? 'igzip' : 'zlib';
  return codec;
}

export function compressor(codec: Codec, sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  if (codec === 'gzip') return igzipAvailable() ? igzipCompressor(sink) : zlibGzipCompressor(sink);
  if (codec === 'zstd') return zstdCompressor(sink);
  return {
    write: async (c) => void (await sink(c)),
    end: async () => {},
    abort: () => {},
  };
}

export function zlibGzipCompressor(sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  const inFlight: Promise<Buffer>[] = [];
  const max = Math.max(2, availableParallelism() + 1);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let failed: Error | undefined;
  let drain = Promise.resolve();
  const submit = (piece: Buffer) => {
    const p = gzipAsync(piece, { level: GZIP_LEVEL });
    p.catch(() => {});
    inFlight.push(p);
  };
  // Hands finished members to the sink in order, oldest first.
  const flushOne = async () => {
    const p = inFlight.shift()!;
    try {
      await sink(await p);
    } catch (err) {
      failed = err as Error;
      throw err;
    }
  };
  // Full pieces go to the pool; the rest waits for more input, unless this is the end.
  const cut = (final: boolean) => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    let i = 0;
    for (; all.length - i >= PIECE || (final && i < all.length); i += PIECE) submit(all.subarray(i, Math.min(all.length, i + PIECE)));
    pending = i < all.length ? [all.subarray(i)] : [];
    pendingBytes = all.length - Math.min(i, all.length);
  };
  return {
    async write(chunk) {
      if (failed) throw failed;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= PIECE) cut(false);
      while (inFlight.length > max) {
        drain = drain.then(flushOne);
        await drain;
      }
    },
    async end() {
      cut(true);
      while (inFlight.length) {
        drain = drain.then(flushOne);
        await drain;
      }
    },
    abort() {
      pending = [];
      inFlight.length = 0;
    },
  };
}

function zstdCompressor(sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  return programCompressor('zstd', ['-q', '-c', `-${ZSTD_LEVEL}`, `-T${availableParallelism()}`], sink);
}

export function igzipCompressor(sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  return programCompressor('igzip', ['-q', '-c', `-${IGZIP_LEVEL}`], sink);
}

/** A small piece (tar headers, config, manifests) as one member of the codec, compressed in-process. */
export function compressSmall(codec: Codec, data: Buffer): Buffer {
  if (codec === 'gzip') return gzipSync(data, { level: GZIP_LEVEL });
  if (codec === 'zstd') return zstdRawFrame(data);
  return data;
}

/**
 * A zstd frame holding the data in raw (stored) blocks: valid zstd that any decoder reads, made without a zstd
 * library. Window 128 KiB (the largest block), no checksum, no content size.
 */
export function zstdRawFrame(data: Buffer): Buffer {
  const BLOCK = 128 << 10;
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3])];
  let i = 0;
  do {
    const n = Math.min(BLOCK, data.length - i);
    const last = i + n >= data.length ? 1 : 0;
    const h = (n << 3) | last; // block type 0 (raw) in bits 1-2
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), data.subarray(i, i + n));
    i += n;
  } while (i < data.length);
  return Buffer.concat(parts);
}
