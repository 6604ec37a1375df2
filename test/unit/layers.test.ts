import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainIds, planTrim, presentChains } from '../../src/ship/layers.js';

const d = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');

describe('chainIds', () => {
  it('is the diff ID for the bottom layer and a hash of parent chain + diff above it', () => {
    const [a, b, c] = [d('a'), d('b'), d('c')];
    const chains = chainIds([a, b, c]);
    const ab = 'sha256:' + createHash('sha256').update(`${a} ${b}`).digest('hex');
    expect(chains).toEqual([a, ab, 'sha256:' + createHash('sha256').update(`${ab} ${c}`).digest('hex')]);
  });
});

describe('planTrim', () => {
  const diffs = [d('base'), d('deps'), d('app')];
  const paths = ['aaa/layer.tar', 'bbb/layer.tar', 'ccc/layer.tar'];

  it('omits the layers whose chain the host has and keeps the rest', () => {
    const host = presentChains([[d('base'), d('deps'), d('old app')]]);
    const plan = planTrim(paths, diffs, host);
    expect([...plan.omit]).toEqual(['aaa/layer.tar', 'bbb/layer.tar']);
    expect(plan.missing).toEqual([2]);
    expect(plan.present).toEqual([0, 1]);
  });

  it('does not omit a layer whose diff the host has under a different parent chain', () => {
    // Same "deps" content on a different base: a different chain, so the host must get it.
    const host = presentChains([[d('other base'), d('deps')]]);
    const plan = planTrim(paths, diffs, host);
    expect(plan.omit.size).toBe(0);
    expect(plan.missing).toEqual([0, 1, 2]);
  });

  it('sends everything to an empty host', () => {
    expect(planTrim(paths, diffs, new Set()).omit.size).toBe(0);
  });

  it('keeps a shared OCI blob if any layer using it is missing', () => {
    const empty = d('empty');
    const oci = ['blobs/sha256/1', 'blobs/sha256/e', 'blobs/sha256/2', 'blobs/sha256/e'];
    const odiffs = [d('1'), empty, d('2'), empty];
    const host = presentChains([[d('1'), empty]]);
    const plan = planTrim(oci, odiffs, host);
    expect([...plan.omit]).toEqual(['blobs/sha256/1']);
    expect(plan.missing).toEqual([2, 3]);
  });

  it('refuses a manifest that disagrees with the config', () => {
    expect(() => planTrim(paths, diffs.slice(0, 2), new Set())).toThrow(/3 layers but its config has 2/);
  });
});
