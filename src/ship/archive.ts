/**
 * The thin archive one host gets (pure): which files, in which order, with which bytes.
 *
 * One hybrid format loads on every engine tested (Docker 20.10, 26 classic, 26 containerd store): an OCI image layout
 * (oci-layout, index.json, blobs/sha256/…) that the containerd store imports, plus a legacy manifest.json that the
 * classic loader reads. Blobs are the config, the OCI manifest and only the layers being sent. Every layer is listed
 * uncompressed, by digest = diffID and its exact size, so a left-out layer is referenced exactly as a containerd
 * store that holds it has it (a wrong size breaks `docker save` there) and the classic loader, which skips layers by
 * chain ID, never opens the file. The manifest is the same for every host, so every containerd host gets the same
 * image ID (the manifest digest); classic hosts get the config digest as always.
 */
import { createHash } from 'node:crypto';

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export interface ArchiveImage {
  /** The image config exactly as saved: its sha256 is the classic image ID. */
  config: Buffer;
  /** Bottom first; diffId is the sha256 of the uncompressed layer tar, size its exact length. */
  layers: readonly { diffId: string; size: number }[];
}

/** The name the archive gives the image, e.g. { repository: 'boxship-incoming', tag: 'hello-1a2b' }. */
export interface ArchiveName {
  repository: string;
  tag: string;
}

export type ArchiveEntry =
  | { path: string; data: Buffer }
  /** A layer file from the spool: `layer` indexes ArchiveImage.layers. */
  | { path: string; layer: number; size: number };

export interface ThinArchive {
  entries: ArchiveEntry[];
  /** sha256 of the config: the image ID on a classic store. */
  configDigest: string;
  /** sha256 of the OCI manifest: the image ID on a containerd store. */
  manifestDigest: string;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blobPath = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** docker.io/library/x:t for a bare x, docker.io/u/x:t for u/x, as containerd names images. */
export function fullImageName({ repository, tag }: ArchiveName): string {
  const first = repository.split('/')[0]!;
  const hasRegistry = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasRegistry ? repository : repository.includes('/') ? `docker.io/${repository}` : `docker.io/library/${repository}`;
  return `${path}:${tag}`;
}

/** The platform the config says the image is for, for the index descriptor (containerd import matches on it). */
function configPlatform(config: Buffer): { os: string; architecture: string; variant?: string } {
  const c = JSON.parse(config.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
  return { os: c.os ?? 'linux', architecture: c.architecture ?? 'amd64', ...(c.variant ? { variant: c.variant } : {}) };
}

/**
 * `send`: indexes of the layers to include (the host lacks them). A diffID that occurs more than once (identical
 * layers) is one blob, included once if any of its occurrences is to be sent.
 */
export function thinArchive(image: ArchiveImage, send: Iterable<number>, name: ArchiveName): ThinArchive {
  const configDigest = sha256(image.config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configDigest, size: image.config.length },
    layers: image.layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.diffId, size: l.size })),
  });
  const manifestDigest = sha256(manifest);
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        mediaType: MEDIA.manifest,
        digest: manifestDigest,
        size: manifest.length,
        platform: configPlatform(image.config),
        annotations: { 'io.containerd.image.name': fullImageName(name), 'org.opencontainers.image.ref.name': name.tag },
      },
    ],
  });
  const legacy = json([{ Config: blobPath(configDigest), RepoTags: [`${name.repository}:${name.tag}`], Layers: image.layers.map((l) => blobPath(l.diffId)) }]);

  const layerEntries: ArchiveEntry[] = [];
  const seen = new Set<string>();
  for (const i of [...new Set(send)].sort((a, b) => a - b)) {
    const l = image.layers[i];
    if (!l) throw new Error(`layer ${i} does not exist (the image has ${image.layers.length})`);
    if (seen.has(l.diffId)) continue;
    seen.add(l.diffId);
    layerEntries.push({ path: blobPath(l.diffId), layer: i, size: l.size });
  }
  const entries: ArchiveEntry[] = [
    { path: 'oci-layout', data: json({ imageLayoutVersion: '1.0.0' }) },
    { path: blobPath(configDigest), data: image.config },
    ...layerEntries,
    { path: blobPath(manifestDigest), data: manifest },
    { path: 'index.json', data: index },
    { path: 'manifest.json', data: legacy },
  ];
  return { entries, configDigest, manifestDigest };
}

/** The ID `docker images` shows for the loaded image on a host with this store. */
export function expectedImageId(archive: ThinArchive, store: 'classic' | 'containerd'): string {
  return store === 'containerd' ? archive.manifestDigest : archive.configDigest;
}
