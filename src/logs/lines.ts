/**
 * Log lines from many containers on many hosts, made into one stream (pure): chunks are cut into whole lines, each
 * line's docker timestamp is read for ordering, and each line is prefixed with its host and instance.
 */
export interface LogLine {
  host: string;
  /** `hello-1/blue` or `proxy`. */
  source: string;
  /** RFC 3339 timestamp from `docker logs --timestamps` ('' when the line had none). */
  time: string;
  text: string;
}

/** Cuts a byte stream into lines; a partial last line waits for the rest. */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  /** The unterminated last line, if any (at the end of the stream). */
  flush(): string[] {
    const last = this.rest;
    this.rest = '';
    return last ? [last] : [];
  }
}

const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) (.*)$/s;

/** Splits `2026-11-25T18:22:50.12Z text` into time and text. */
export function splitTimestamp(line: string): { time: string; text: string } {
  const m = TS.exec(line);
  if (!m) return { time: '', text: line };
  return { time: line.slice(0, line.length - m[4]!.length - 1), text: m[4]! };
}

/**
 * A key that sorts like the time: docker trims trailing zeros of the fraction (".1Z" vs ".05Z"), so the fraction is
 * padded to nanoseconds, and an offset is turned into UTC milliseconds.
 */
export function timeKey(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return '';
  const ms = Date.parse(`${m[1]}${m[3]}`);
  return `${String(ms).padStart(15, '0')}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/** Lines of all sources, oldest first; lines with equal times keep their order within a source. */
export function mergeByTime<T extends LogLine>(lines: T[]): T[] {
  return lines
    .map((l, i) => ({ l, i, k: timeKey(l.time) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((x) => x.l);
}

/** The prefix width that lines up the text of every source seen so far. */
function _prefixWidth(lines: Pick<LogLine, 'host' | 'source'>[]): number {
  return Math.max(0, ...lines.map((l) => l.host.length + 1 + l.source.length));
}

/** `host source | text`, with the time when asked. */
export function formatLine(l: LogLine, width = 0, timestamps = false): string {
  const prefix = `${l.host} ${l.source}`.padEnd(width);
  return `${prefix} | ${timestamps && l.time ? `${l.time} ` : ''}${l.text}`;
}
