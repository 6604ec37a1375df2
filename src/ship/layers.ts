/**
 * Which layers a host lacks (pure), for both image stores.
 *
 * Classic store (overlay2 and friends): layers are keyed by chain ID, the hash of a layer together with every layer
 * below it. `docker load` skips a layer whose chain ID the daemon has without opening its file, so the same diff on
 * another base counts as missing.
 *
 * containerd store: `docker load` imports blobs into the content store and resolves every blob the manifest names
 * there. A layer may be left out only if the store holds a blob whose digest is exactly the layer's diffID (the
 * uncompressed tar). A layer the store holds only compressed (pulled from a registry, built on the host) has another
 * digest and must be sent: referencing it by diffID would load "successfully" into an image hidden from `docker images`.
 */
import { createHash } from 'node:crypto';

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diff of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diff : `sha256:${createHash('sha256').update(`${prev} ${diff}`).digest('hex')}`);
  }
  return out;
}

/** Every chain ID present on a host, from the RootFS.Layers of each of its images. */
export function presentChains(imageLayerLists: readonly (readonly string[])[]): Set<string> {
  const set = new Set<string>();
  for (const layers of imageLayerLists) for (const c of chainIds(layers)) set.add(c);
  return set;
}

/** What a host holds, as far as leaving a layer out of its archive is concerned. */
export type HostLayers =
  | { store: 'classic'; chains: ReadonlySet<string> }
  /** `blobs`: every digest in the content store (`ctr -n moby content ls`). */
  | { store: 'containerd'; blobs: ReadonlySet<string> };

export interface LayerPlan {
  /** Indexes (bottom = 0) of layers the host has and that are left out. */
  present: number[];
  /** Indexes of layers that must be sent. */
  missing: number[];
}

export function planLayers(diffIds: readonly string[], host: HostLayers): LayerPlan {
  const has: (i: number) => boolean =
    host.store === 'classic'
      ? (
          (chains) => (i) =>
            host.chains.has(chains[i]!)
        )(chainIds(diffIds))
      : (i) => host.blobs.has(diffIds[i]!);
  const present: number[] = [];
  const missing: number[] = [];
  diffIds.forEach((_, i) => {
    (has(i) ? present : missing).push(i);
  });
  return { present, missing };
}
