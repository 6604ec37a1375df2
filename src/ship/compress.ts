/**
 * The codecs layers travel in, each producing a stream that concatenates into a valid stream of its kind: a
 * multi-member gzip stream (RFC 1952) and a multi-frame zstd stream decompress to the concatenation of their parts,
 * so a host's upload is put together from members compressed once, at different times, for different hosts.
 *
 * - gzip (every Docker loads it): level 1, the input cut into 4 MiB pieces compressed as separate members on libuv's
 *   thread pool, so every core works on one layer; the cost is a few hundred bytes per piece.
 * - zstd (Docker 23+ loads it; Docker 20.10 does not): the local `zstd` program, multi-threaded.
 * - none: the bytes as they are (a link faster than the codec).
 * Small pieces (tar headers, manifests) are compressed in-process: zlib for gzip, a raw-block frame for zstd.
 */
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCb, gzipSync } from 'node:zlib';
import type { Codec } from './cache.js';

const gzipAsync = promisify(gzipCb);

export const GZIP_LEVEL = 1;
export const ZSTD_LEVEL = 3;
const PIECE = 4 << 20;

let zstdFound: boolean | undefined;
/** Whether the deployer has the zstd program (checked once). */
export function zstdAvailable(): boolean {
  if (zstdFound === undefined) {
    try {
      zstdFound = spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
    } catch {
      zstdFound = false;
    }
  }
  return zstdFound;
}

/** A compressor fed chunk by chunk; `sink` gets the compressed bytes in order. */
export interface Compressor {
  /** Resolves when the compressor can take more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Flushes; resolves when every compressed byte has been given to the sink. */
  end(): Promise<void>;
  abort(): void;
}

export function compressor(codec: Codec, sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  if (codec === 'gzip') return gzipCompressor(sink);
  if (codec === 'zstd') return zstdCompressor(sink);
  return {
    write: async (c) => void (await sink(c)),
    end: async () => {},
    abort: () => {},
  };
}

function gzipCompressor(sink: (chunk: Buffer) => Promise<void> | void): Compressor {
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
  const child = spawn('zstd', ['-q', '-c', `-${ZSTD_LEVEL}`, `-T${availableParallelism()}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  let sinking = Promise.resolve();
  let failed: Error | undefined;
  child.stdout.on('data', (c: Buffer) => {
    child.stdout.pause();
    sinking = sinking
      .then(() => sink(c))
      .then(
        () => void child.stdout.resume(),
        (e: Error) => {
          failed = e;
          child.kill();
        },
      );
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(failed ?? new Error(`zstd exited ${code}: ${err.trim()}`))));
  });
  exited.catch(() => {});
  child.stdin.on('error', () => {});
  return {
    write(chunk) {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        const ok = child.stdin.write(chunk);
        if (ok) resolve();
        else {
          const onDrain = () => {
            child.removeListener('close', onClose);
            resolve();
          };
          const onClose = () => reject(failed ?? new Error(`zstd ended early: ${err.trim()}`));
          child.stdin.once('drain', onDrain);
          child.once('close', onClose);
        }
      });
    },
    async end() {
      child.stdin.end();
      await exited;
      await sinking;
      if (failed) throw failed;
    },
    abort() {
      child.kill();
    },
  };
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
