/** "Did you mean" for unknown keys: typos in boxship.yml should cost one glance, not a trip to the docs. */

/** Optimal-string-alignment distance: Levenshtein plus transposition, since swapped letters are common typos. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

// camelCase, kebab-case and SHOUTING variants of a key are the same key to a human.
const normalize = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');

/** The closest candidate, if it is close enough to be a plausible typo; undefined otherwise. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const exact = candidates.find((c) => normalize(c) === normalize(input));
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  // Up to a third of the length: "helthcheck" -> "healthcheck" (1 edit) is a typo, "bind" -> "port" is not.
  return bestDistance <= Math.max(1, Math.floor(input.length / 3)) ? best : undefined;
}
