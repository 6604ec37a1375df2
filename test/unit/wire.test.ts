import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { thinArchive } from '../../src/ship/archive.js';
import { compressSmall, zstdAvailable, zstdRawFrame } from '../../src/ship/compress.js';
import { archivePieces, endsPart, partArchive, prefixConfig, tarHeader } from '../../src/ship/wire.js';

const digest = (b: string | Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Every entry of a tar stream, by name. */
async function entries(tar: Buffer): Promise<{ name: string; body: string }[]> {
  const got: { name: string; body: string }[] = [];
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      got.push({ name: h.name, body: Buffer.concat(chunks).toString() });
      next();
    });
  });
  const done = new Promise<void>((res, rej) => ex.on('finish', () => res()).on('error', rej));
  ex.end(tar);
  await done;
  return got;
}

describe('archivePieces', () => {
  const bodies = ['base layer bytes', 'app layer bytes, longer'];
  const layers = bodies.map((b) => ({ diffId: digest(b), size: Buffer.byteLength(b) }));
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');

  it("cuts the archive into this host's bytes and layer bodies that concatenate into the tar of the layout", async () => {
    const archive = thinArchive({ config, layers }, [1], { repository: 'boxship-incoming', tag: 't' });
    const pieces = archivePieces(archive);
    expect(pieces.filter((p) => 'layer' in p)).toEqual([{ layer: 1 }]);
    const tar = Buffer.concat(pieces.map((p) => ('data' in p ? p.data : Buffer.from(bodies[p.layer]!))));
    const got = await entries(tar);
    expect(got.map((e) => e.name)).toEqual(archive.entries.map((e) => e.path));
    expect(got[2]).toEqual({ name: `blobs/sha256/${layers[1]!.diffId.slice(7)}`, body: bodies[1] });
    expect(got[1]!.body).toBe(config.toString());
  });

  it('compressed piece by piece, the pieces are one valid gzip stream (one member each)', async () => {
    const archive = thinArchive({ config, layers }, [0, 1], { repository: 'x', tag: 't' });
    const gz = Buffer.concat(archivePieces(archive).map((p) => compressSmall('gzip', 'data' in p ? p.data : Buffer.from(bodies[p.layer]!))));
    const got = await entries(gunzipSync(gz));
    expect(got.filter((e) => e.name.startsWith('blobs/')).map((e) => e.body)).toEqual(expect.arrayContaining(bodies));
  });

  it.runIf(zstdAvailable())('writes zstd frames of raw blocks that zstd decodes, also past one block', () => {
    const big = Buffer.alloc(300_000, 7);
    big.write('end', big.length - 3);
    const stream = Buffer.concat([zstdRawFrame(Buffer.from('hello ')), zstdRawFrame(Buffer.alloc(0)), zstdRawFrame(big)]);
    const out = execFileSync('zstd', ['-dc'], { input: stream });
    expect(out.subarray(0, 6).toString()).toBe('hello ');
    expect(out.length).toBe(6 + big.length);
    expect(out.subarray(-3).toString()).toBe('end');
  });

  it('writes ustar headers tar reads, with exact sizes', async () => {
    const h = tarHeader(`blobs/sha256/${'a'.repeat(64)}`, 5);
    const got = await entries(Buffer.concat([h, Buffer.from('12345'), Buffer.alloc(507), Buffer.alloc(1024)]));
    expect(got).toEqual([{ name: `blobs/sha256/${'a'.repeat(64)}`, body: '12345' }]);
  });
});

describe('parts', () => {
  const layers = [1, 2, 3].map((i) => ({ diffId: digest(String(i)), size: 100 * i }));
  const image = { config: Buffer.from('{"architecture":"arm64","os":"linux","rootfs":{}}'), layers };
  const name = { repository: 'boxship-incoming', tag: 'hello-1' };

  it('ends a part once enough bytes are gathered, never after the last layer (it goes with the config)', () => {
    expect(endsPart(10, false, 10)).toBe(true);
    expect(endsPart(9, false, 10)).toBe(false);
    expect(endsPart(1000, true, 10)).toBe(false);
  });

  it('loads a part as the image cut after its top layer, under a name of its own', () => {
    const p = partArchive(image, [0, 1], name, { final: false, index: 1, platform: { os: 'linux', architecture: 'arm64' } });
    expect(p.name).toEqual({ repository: 'boxship-incoming', tag: 'hello-1-p1' });
    const cfg = JSON.parse((p.archive.entries[1] as { data: Buffer }).data.toString());
    expect(cfg).toEqual({ architecture: 'arm64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layers[0]!.diffId, layers[1]!.diffId] } });
    expect(p.archive.entries.filter((e) => 'layer' in e).map((e) => (e as { layer: number }).layer)).toEqual([0, 1]);
  });

  it('loads the final part as the image itself', () => {
    const p = partArchive(image, [2], name, { final: true });
    expect(p.name).toBe(name);
    expect(p.archive).toEqual(thinArchive(image, [2], name));
  });

  it('keeps the variant in a prefix config', () => {
    expect(JSON.parse(prefixConfig({ os: 'linux', architecture: 'arm', variant: 'v7' }, []).toString()).variant).toBe('v7');
  });
});
