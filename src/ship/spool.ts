/**
 * One `docker save`, unpacked once into a local temp dir and read by every host's sender.
 *
 * Why a spool and not a tee of the live stream: in the legacy save format (Docker <= 24) layer folders are named by
 * v1 IDs and manifest.json, which says which folder is which layer, comes last. A streaming filter cannot know
 * which layer it is holding until the stream is over. Unpacking once (page cache makes it cheap) lets each host read
 * only the files it lacks, at its own pace, and a slow host never holds back a fast one.
 *
 * Either image store may be the deployer's (save-format.ts). Every layer ends up as an uncompressed file whose
 * sha256 is its diffID: that is what the thin archive sends and references (archive.ts). A containerd store may
 * save a layer gzipped; such a layer is unpacked here once, and its digest checked against the config's diffID.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type Docker from 'dockerode';
import { extract } from 'tar-fs';
import { BoxshipError } from '../util/errors.js';
import type { ArchiveImage } from './archive.js';
import { meter } from './meter.js';
import { compressionOf, saveLayout } from './save-format.js';

export interface SpoolLayer {
  diffId: string;
  /** Exact uncompressed size. */
  size: number;
  /** Absolute path of the uncompressed layer tar. */
  file: string;
}

export interface SavedImage extends ArchiveImage {
  /** The ID the deployer's engine gives the image (config digest on a classic store, manifest digest on containerd). */
  imageId: string;
  dir: string;
  layers: SpoolLayer[];
  diffIds: string[];
  /** Total bytes of the uncompressed save (what a plain `docker save | docker load` would send). */
  bytes: number;
  remove(): Promise<void>;
}

/** tmpfs (/dev/shm) when it has room for the image twice over: the spool is read right back, disk buys nothing. */
async function spoolBase(imageBytes: number): Promise<string> {
  try {
    const fs = await statfs('/dev/shm');
    if (fs.bavail * fs.bsize > imageBytes * 2) return '/dev/shm';
  } catch {
    /* no /dev/shm here */
  }
  return tmpdir();
}

export async function saveImage(docker: Docker, imageId: string): Promise<SavedImage> {
  const size = ((await docker.getImage(imageId).inspect()) as { Size?: number }).Size ?? Number.MAX_SAFE_INTEGER;
  const dir = await mkdtemp(join(await spoolBase(size), 'boxship-save-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    let bytes = 0;
    const stream = (await docker.getImage(imageId).get()) as NodeJS.ReadableStream;
    stream.on('data', (c: Buffer) => (bytes += c.length));
    await pipeline(stream, extract(dir));
    return { imageId, dir, bytes, remove, ...(await readSpool(dir)) };
  } catch (err) {
    await remove();
    throw err instanceof BoxshipError ? err : new BoxshipError(`docker save of ${imageId} failed: ${(err as Error).message}`, { hint: 'is the local Docker engine running and does the image still exist?', cause: err });
  }
}

/** Config and uncompressed layers of an unpacked save. */
export async function readSpool(dir: string): Promise<{ config: Buffer; layers: SpoolLayer[]; diffIds: string[] }> {
  const inside = (p: string) => {
    const abs = join(dir, normalize(p));
    if (!abs.startsWith(dir + '/')) throw new BoxshipError(`docker save output names a path outside itself: ${p}`);
    return abs;
  };
  const layout = saveLayout((p) => (existsSync(inside(p)) ? readFileSync(inside(p)) : undefined));
  const config = await readFile(inside(layout.configPath));
  const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  if (diffIds.length !== layout.layerPaths.length) {
    throw new BoxshipError(`the saved image lists ${layout.layerPaths.length} layers but its config has ${diffIds.length} diff IDs`);
  }
  const layers: SpoolLayer[] = [];
  for (const [i, path] of layout.layerPaths.entries()) layers.push(await uncompressedLayer(dir, inside(path), diffIds[i]!));
  return { config, layers, diffIds };
}

async function uncompressedLayer(dir: string, file: string, diffId: string): Promise<SpoolLayer> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(4);
  await fh.read(head, 0, 4, 0).finally(() => fh.close());
  const kind = compressionOf(head);
  if (kind === 'none') return { diffId, size: (await stat(file)).size, file };
  if (kind === 'zstd') throw new BoxshipError(`layer ${diffId} is saved zstd-compressed, which boxship cannot unpack`, { hint: 'build the image with gzip or uncompressed layers (the default)' });
  await mkdir(join(dir, 'uncompressed'), { recursive: true });
  const out = join(dir, 'uncompressed', diffId.replace('sha256:', ''));
  const m = meter();
  await pipeline(createReadStream(file), createGunzip(), m.stream, createWriteStream(out));
  const digest = 'sha256:' + m.sha256();
  if (digest !== diffId) throw new BoxshipError(`a saved layer unpacks to ${digest}, but the image config says ${diffId}`);
  return { diffId, size: m.bytes(), file: out };
}
