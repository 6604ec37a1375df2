/**
 * What a host has, read in one round trip per release run (the command is in commands.ts, the parsing here is pure):
 * its engine's platform, its image store, the IDs and layers of its images, and on the containerd store the digests in
 * its content store.
 */
import { type HostLayers, presentChains } from './layers.js';

const CONTAINERD_SNAPSHOTTER = 'io.containerd.snapshotter';

export interface HostInventory {
  /** `os/arch` of the engine, e.g. linux/amd64. */
  platform: string;
  /** The engine's version, e.g. 20.10.24+dfsg1 (empty when it did not say). */
  version: string;
  store: 'classic' | 'containerd';
  /** IDs of every image (`docker images` IDs: config digests on classic, manifest digests on containerd). */
  imageIds: Set<string>;
  layers: HostLayers;
  /**
   * Set when a containerd store's content could not be listed (ctr missing or not permitted): every layer is then
   * sent, since nothing tells which blobs it holds uncompressed.
   */
  contentUnavailable?: string;
}

/**
 * Lines, each `<kind> <rest>`: `platform linux/amd64 26.1.5`, `driver <DriverStatus JSON>`,
 * `image <id> <RootFS.Layers JSON>`, `blob <digest>` (containerd store), `noblobs <why>`.
 */
export function parseInventory(text: string): HostInventory {
  let platform = '';
  let version = '';
  let driver = '';
  const imageIds = new Set<string>();
  const layerLists: string[][] = [];
  const blobs = new Set<string>();
  let contentUnavailable: string | undefined;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    const [kind, rest] = sp < 0 ? [line, ''] : [line.slice(0, sp), line.slice(sp + 1).trim()];
    if (kind === 'platform') [platform = '', version = ''] = rest.split(/\s+/);
    else if (kind === 'driver') driver = rest;
    else if (kind === 'image') {
      const [id = '', json = 'null'] = rest.split(/ (.*)/s);
      imageIds.add(id);
      layerLists.push((JSON.parse(json) as string[] | null) ?? []);
    } else if (kind === 'blob' && /^sha256:[0-9a-f]{64}$/.test(rest)) blobs.add(rest);
    else if (kind === 'noblobs') contentUnavailable = rest || 'ctr failed';
  }
  const store = driver.includes(CONTAINERD_SNAPSHOTTER) ? 'containerd' : 'classic';
  const layers: HostLayers = store === 'containerd' ? { store, blobs: contentUnavailable ? new Set() : blobs } : { store, chains: presentChains(layerLists) };
  return { platform, version, store, imageIds, layers, ...(store === 'containerd' && contentUnavailable ? { contentUnavailable } : {}) };
}

/** Whether the host's `docker load` takes a zstd stream: Docker 23 and later (20.10 refuses it; checked on 26.1). */
export function loadsZstd(inv: Pick<HostInventory, 'version'>): boolean {
  const major = Number(/^(\d+)\./.exec(inv.version)?.[1]);
  return Number.isFinite(major) && major >= 23;
}
