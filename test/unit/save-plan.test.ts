import { describe, expect, it } from 'vitest';
import { passesBySize, resave, sameSize } from '../../src/ship/save-plan.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('resave (after a docker save)', () => {
  it('runs no more save when the save brought every needed layer and every size', () => {
    expect(resave({ missed: [], lacking: [], sizeless: false, corrupt: [] })).toEqual({ again: false });
  });

  it('saves once more, hashing every file, when a file read past by its size was another layer (a size is unknown)', () => {
    expect(resave({ missed: [], lacking: [d('b')], sizeless: true, corrupt: [] })).toEqual({ again: true, skipBySize: false });
  });

  it('saves once more, hashing every file, when a layer it only hashed turned out to be one the cache lacks', () => {
    expect(resave({ missed: [d('b')], lacking: [d('b')], sizeless: false, corrupt: [] })).toEqual({ again: true, skipBySize: false });
  });

  it('may still skip by size when all it lacks is cache entries found corrupt after the save passed them', () => {
    expect(resave({ missed: [], lacking: [d('a')], sizeless: false, corrupt: [d('a')] })).toEqual({ again: true, skipBySize: true });
    expect(resave({ missed: [], lacking: [d('a'), d('b')], sizeless: false, corrupt: [d('a')] })).toEqual({ again: true, skipBySize: false });
  });
});

describe('which big file of a save is read past by its size', () => {
  it('finds the cached layers of exactly that size', () => {
    const cached = new Map([
      [d('a'), { size: 10 }],
      [d('b'), { size: 20 }],
      [d('c'), { size: 10 }],
    ]);
    expect(sameSize(cached, 10)).toEqual([d('a'), d('c')]);
    expect(sameSize(cached, 11)).toEqual([]);
  });

  it('passes a file only in a save that may, uncompressed, when every cached layer of its size is of no concern', () => {
    expect(passesBySize({ gzip: false, skipBySize: true, settled: [true, true] })).toBe(true);
    expect(passesBySize({ gzip: false, skipBySize: true, settled: [true, false] })).toBe(false);
    expect(passesBySize({ gzip: false, skipBySize: true, settled: [] })).toBe(false);
    expect(passesBySize({ gzip: true, skipBySize: true, settled: [true] })).toBe(false);
    expect(passesBySize({ gzip: false, skipBySize: false, settled: [true] })).toBe(false);
  });
});
