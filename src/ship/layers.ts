/**
 * Which layers a host lacks (pure). The classic image store keys layers by chain ID: the hash of a layer together
 * with every layer below it. `docker load` skips any layer whose chain ID the daemon already has without opening
 * its file, so a tar that leaves those files out loads fine and carries only what is new.
 */
import { createHash } from 'node:crypto';

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diff of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diff : 'sha256:' + createHash('sha256').update(`${prev} ${diff}`).digest('hex'));
  }
  return out;
}

/** Every chain ID present on a host, from the RootFS.Layers of each of its images. */
export function presentChains(imageLayerLists: readonly (readonly string[])[]): Set<string> {
  const set = new Set<string>();
  for (const layers of imageLayerLists) for (const c of chainIds(layers)) set.add(c);
  return set;
}

export interface TrimPlan {
  /** Paths inside the `docker save` tar to leave out for this host. */
  omit: Set<string>;
  /** Indexes (bottom = 0) of layers the host has. */
  present: number[];
  /** Indexes of layers that must be sent. */
  missing: number[];
}

/**
 * manifestLayers[i] is the tar path holding layer i (legacy `<id>/layer.tar` or OCI `blobs/sha256/<hex>`);
 * diffIds[i] its uncompressed digest. A path may stand for several layers (OCI dedupes identical blobs), so it is
 * left out only if the host has every one of them.
 */
export function planTrim(manifestLayers: readonly string[], diffIds: readonly string[], hostChains: ReadonlySet<string>): TrimPlan {
  if (manifestLayers.length !== diffIds.length) {
    throw new Error(`image manifest lists ${manifestLayers.length} layers but its config has ${diffIds.length} diff IDs`);
  }
  const chains = chainIds(diffIds);
  const present: number[] = [];
  const missing: number[] = [];
  chains.forEach((c, i) => (hostChains.has(c) ? present : missing).push(i));
  const needed = new Set(missing.map((i) => manifestLayers[i]));
  const omit = new Set(present.map((i) => manifestLayers[i]!).filter((p) => !needed.has(p)));
  return { omit, present, missing };
}
