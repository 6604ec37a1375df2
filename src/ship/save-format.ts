/**
 * Where config and layers are inside a `docker save` (pure, over a file reader), for every engine a deployer may run:
 * - Docker <= 24, classic store: legacy layout, manifest.json naming `<v1 id>.json` and `<v1 id>/layer.tar`;
 * - Docker >= 25, either store: OCI layout (index.json, blobs/sha256/…) plus the same manifest.json naming blobs;
 * - an OCI layout without manifest.json (other tools): index.json -> (image index ->) manifest -> blobs.
 * Layers named here may be compressed (a containerd store keeps pulled layers gzipped); the spool normalises them.
 */
import { BoxshipError } from '../util/errors.js';

export interface SaveLayout {
  configPath: string;
  /** Bottom first. */
  layerPaths: string[];
}

type Read = (path: string) => Buffer | undefined;

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
}

const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

function parse<T>(read: Read, path: string): T {
  const data = read(path);
  if (!data) throw new BoxshipError(`docker save output has no ${path}`);
  return JSON.parse(data.toString('utf8')) as T;
}

export function saveLayout(read: Read): SaveLayout {
  if (read('manifest.json')) {
    const manifest = parse<{ Config: string; Layers: string[] }[]>(read, 'manifest.json');
    const entry = manifest[0];
    if (!entry || manifest.length !== 1) throw new BoxshipError(`docker save holds ${manifest.length} images, expected 1`);
    return { configPath: entry.Config, layerPaths: entry.Layers };
  }
  let desc = imageDescriptor(parse<{ manifests?: Descriptor[] }>(read, 'index.json').manifests);
  // An image index (multi-platform, or BuildKit's attestation manifests next to the image): take the image itself.
  for (let depth = 0; desc.mediaType?.endsWith('image.index.v1+json') || desc.mediaType?.endsWith('manifest.list.v2+json'); depth++) {
    if (depth > 3) throw new BoxshipError('docker save output nests image indexes too deep');
    desc = imageDescriptor(parse<{ manifests?: Descriptor[] }>(read, blobPath(desc.digest)).manifests);
  }
  const m = parse<{ config: Descriptor; layers: Descriptor[] }>(read, blobPath(desc.digest));
  return { configPath: blobPath(m.config.digest), layerPaths: m.layers.map((l) => blobPath(l.digest)) };
}

/** The one image among descriptors; attestation manifests carry platform unknown/unknown. */
function imageDescriptor(manifests: Descriptor[] | undefined): Descriptor {
  const images = (manifests ?? []).filter((d) => d.platform?.os !== 'unknown');
  if (images.length !== 1) throw new BoxshipError(`docker save output names ${images.length} images, expected 1`);
  return images[0]!;
}

export type Compression = 'none' | 'gzip' | 'zstd';

/** From a blob's first bytes: what a containerd store may hand back for a layer. */
export function compressionOf(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}
