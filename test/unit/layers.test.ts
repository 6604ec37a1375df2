import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainIds, planLayers, presentChains } from '../../src/ship/layers.js';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('chainIds', () => {
  it('is the diff ID for the bottom layer and a hash of parent chain + diff above it', () => {
    const [a, b, c] = [d('a'), d('b'), d('c')];
    const chains = chainIds([a, b, c]);
    const ab = `sha256:${createHash('sha256').update(`${a} ${b}`).digest('hex')}`;
    expect(chains).toEqual([a, ab, `sha256:${createHash('sha256').update(`${ab} ${c}`).digest('hex')}`]);
  });
});

describe('planLayers', () => {
  const diffs = [d('base'), d('deps'), d('app')];

  it('classic store: leaves out the layers whose chain the host has and sends the rest', () => {
    const plan = planLayers(diffs, { store: 'classic', chains: presentChains([[d('base'), d('deps'), d('old app')]]) });
    expect(plan).toEqual({ present: [0, 1], missing: [2] });
  });

  it('classic store: sends a layer whose diff the host has under a different parent chain', () => {
    // Same "deps" content on a different base: a different chain, so the host must get it.
    const plan = planLayers(diffs, { store: 'classic', chains: presentChains([[d('other base'), d('deps')]]) });
    expect(plan).toEqual({ present: [], missing: [0, 1, 2] });
  });

  it('sends everything to an empty host, on either store', () => {
    expect(planLayers(diffs, { store: 'classic', chains: new Set() }).missing).toEqual([0, 1, 2]);
    expect(planLayers(diffs, { store: 'containerd', blobs: new Set() }).missing).toEqual([0, 1, 2]);
  });

  it('containerd store: leaves out exactly the layers held uncompressed (blob digest = diffID)', () => {
    const plan = planLayers(diffs, { store: 'containerd', blobs: new Set([d('base'), d('app')]) });
    expect(plan).toEqual({ present: [0, 2], missing: [1] });
  });

  it('containerd store: a layer held only compressed (another blob digest) is sent', () => {
    // The content store has deps only as a gzip blob: its digest is not the diffID, the label maps it, but a thin
    // archive must name the layer by diffID, which the store cannot resolve.
    const gzipBlobOfDeps = d('gzip(deps)');
    const plan = planLayers(diffs, { store: 'containerd', blobs: new Set([d('base'), gzipBlobOfDeps]) });
    expect(plan).toEqual({ present: [0], missing: [1, 2] });
  });

  it('containerd store: a layer is present by its blob, whatever lies below it', () => {
    // The content store is content-addressed: no chain, unlike the classic store.
    expect(planLayers(diffs, { store: 'containerd', blobs: new Set([d('deps')]) })).toEqual({ present: [1], missing: [0, 2] });
  });
});
