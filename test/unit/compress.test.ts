import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressor, compressorName, compressSmall, igzipAvailable, igzipCompressor, zlibGzipCompressor } from '../../src/ship/compress.js';
import type { Compressor } from '../../src/ship/compressor.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Compressible bytes that are not one repeated pattern: a layer-like mix of text and noise, past two 4 MiB pieces. */
function layerLike(size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 7 === 0 ? x >>> 24 : 97 + ((x >>> 16) % 11);
  }
  return out;
}

/** Runs bytes through a compressor in 64 KiB writes, as a docker save body arrives. */
async function through(make: (sink: (c: Buffer) => void) => Compressor, data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const c = make((chunk) => void out.push(chunk));
  for (let i = 0; i < data.length; i += 64 << 10) await c.write(data.subarray(i, i + (64 << 10)));
  await c.end();
  return Buffer.concat(out);
}

const data = layerLike(9 << 20);
const noIgzip = igzipAvailable() ? '' : ' (SKIPPED: no igzip on this machine; install the Debian package isal)';

describe('gzip layers', () => {
  it('zlib members (the fallback) round-trip', async () => {
    const gz = await through(zlibGzipCompressor, data);
    expect(sha(gunzipSync(gz))).toBe(sha(data));
  });

  it.skipIf(!igzipAvailable())(`igzip output round-trips through zlib gunzip${noIgzip}`, async () => {
    const gz = await through(igzipCompressor, data);
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(sha(gunzipSync(gz))).toBe(sha(data));
  });

  it.skipIf(!igzipAvailable())(`igzip members concatenate with zlib-made members into one gzip stream${noIgzip}`, async () => {
    const header = Buffer.from('tar header bytes, compressed in-process for one host\n');
    const tail = Buffer.alloc(1024);
    const layer = await through(igzipCompressor, data);
    const zlibLayer = await through(zlibGzipCompressor, data.subarray(0, 1 << 20));
    const stream = Buffer.concat([compressSmall('gzip', header), layer, zlibLayer, compressSmall('gzip', tail)]);
    const want = Buffer.concat([header, data, data.subarray(0, 1 << 20), tail]);
    expect(sha(gunzipSync(stream))).toBe(sha(want));
  });

  it('gzip layers are made by igzip when it is here, zlib otherwise', async () => {
    expect(compressorName('gzip')).toBe(igzipAvailable() ? 'igzip' : 'zlib');
    const gz = await through((sink) => compressor('gzip', sink), data.subarray(0, 1 << 20));
    expect(sha(gunzipSync(gz))).toBe(sha(data.subarray(0, 1 << 20)));
  });
});
