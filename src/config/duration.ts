/**
 * Durations in boxship.yml: a bare number means seconds (what people expect of `interval: 2`), a string carries
 * its unit ("500ms", "2s", "1m"). Config holds milliseconds so callers never convert again.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m)$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
export const DURATION_FORMAT = 'a number of seconds, or a string like "500ms", "2s" or "1m"';

/** Milliseconds (rounded), or undefined when the value is not a positive duration. */
export function parseDuration(value: number | string): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else {
    const match = DURATION_RE.exec(value.trim());
    if (!match) return undefined;
    const unit = match[2] as keyof typeof UNIT_MS;
    ms = Number.parseFloat(value) * UNIT_MS[unit];
  }
  ms = Math.round(ms);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
