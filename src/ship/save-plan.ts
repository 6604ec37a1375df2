/**
 * The decisions of reading a `docker save` (pure; save-stream.ts and layer-supply.ts act on them). Which layer a file
 * of a save is shows only at its end (its sha256 is its diffID), so a big file whose size is a cached layer's is read
 * past unhashed, as that layer. When the guess was wrong (the bytes were another layer, one a host needs), that layer
 * and its size are still missing after the save: one more save, hashing every file this time, brings it.
 */

/** What one save left undone. */
export interface AfterSave {
  /** Needed layers that a file hashed to although it was read only to be hashed (the cache seemed to hold them). */
  missed: readonly string[];
  /** Needed layers neither handed out nor validly cached. */
  lacking: readonly string[];
  /** Whether some layer's size is still unknown (a file read past by its size was another layer). */
  sizeless: boolean;
  /** Cache entries found corrupt so far (a host needs them again). */
  corrupt: readonly string[];
}

export type Resave = { again: false } | { again: true; skipBySize: boolean };

/**
 * Whether one more save must run, and whether it may still read past files by their size: only when all it must
 * bring is cache entries found corrupt after the save had passed them (no size misled). Otherwise every unknown
 * layer is hashed, and compressed where a host lacks it.
 */
export function resave(s: AfterSave): Resave {
  if (!s.missed.length && !s.lacking.length && !s.sizeless) return { again: false };
  return { again: true, skipBySize: s.missed.length === 0 && !s.sizeless && s.lacking.every((d) => s.corrupt.includes(d)) };
}

/** The cached layers of exactly this uncompressed size: what a big file of the save may be, as far as its size says. */
export function sameSize(cached: Iterable<[string, { size: number }]>, size: number): string[] {
  return [...cached].filter(([, e]) => e.size === size).map(([d]) => d);
}

/**
 * Whether a big file of the save is read past unhashed, as a cached layer: only in a save that may skip by size, for
 * an uncompressed file (a gzipped one's size says nothing about its layer), when some cached layer has its size and
 * every such layer is of no concern (`settled`: needed by no host, or valid in the cache).
 */
export function passesBySize(o: { gzip: boolean; skipBySize: boolean; settled: readonly boolean[] }): boolean {
  return !o.gzip && o.skipBySize && o.settled.length > 0 && o.settled.every(Boolean);
}
