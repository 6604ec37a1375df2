/**
 * One `docker save`, unpacked once into a local temp dir and read by every host's sender.
 *
 * Why a spool and not a tee of the live stream: in the legacy save format (Docker <= 24) layer folders are named by
 * v1 IDs and manifest.json, which says which folder is which layer, comes last. A streaming filter cannot know
 * which layer it is holding until the stream is over. Unpacking once (page cache makes it cheap) lets each host read
 * only the files it lacks, at its own pace, and a slow host never holds back a fast one.
 */
import { mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { extract } from 'tar-fs';
import { BoxshipError } from '../util/errors.js';

export interface SavedImage {
  imageId: string;
  dir: string;
  /** Tar path of each layer, bottom first. */
  manifestLayers: string[];
  diffIds: string[];
  /** Total bytes of the uncompressed save (what a plain `docker save | docker load` would send). */
  bytes: number;
  remove(): Promise<void>;
}

interface ManifestEntry {
  Config: string;
  Layers: string[];
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
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ManifestEntry[];
    const entry = manifest[0];
    if (!entry || manifest.length !== 1) throw new BoxshipError(`docker save of ${imageId} holds ${manifest.length} images, expected 1`);
    const config = JSON.parse(await readFile(join(dir, entry.Config), 'utf8')) as { rootfs?: { diff_ids?: string[] } };
    return { imageId, dir, manifestLayers: entry.Layers, diffIds: config.rootfs?.diff_ids ?? [], bytes, remove };
  } catch (err) {
    await remove();
    throw err instanceof BoxshipError ? err : new BoxshipError(`docker save of ${imageId} failed: ${(err as Error).message}`, { hint: 'is the local Docker engine running and does the image still exist?', cause: err });
  }
}
