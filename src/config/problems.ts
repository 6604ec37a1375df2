/**
 * Config problems and where they are. Every problem names `file:line:column` so the user can jump straight to it,
 * and all problems of a file are thrown together in one ConfigError: fixing them one run at a time is tedious.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { InputError } from '../util/errors.js';

export type PathSegment = string | number;

export interface Problem {
  /** The file as the user named it (for a secrets file: that file). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Where in boxship.yml, e.g. "hosts[1].port"; empty for problems about the file as a whole. */
  path: string;
  message: string;
  /** What to do about it. */
  hint?: string;
}

/** `file:line:column: path: message`, the shape compilers use, so terminals and editors make it clickable. */
function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** One error for all problems: the message has one line per problem, the hint one line per distinct hint. */
export class ConfigError extends InputError {
  readonly problems: readonly Problem[];
  constructor(problems: Problem[]) {
    // In file order: boxship.yml first, then files it names (the secrets file), each from top to bottom.
    const files = [...new Set(problems.map((p) => p.file))];
    const sorted = [...problems].sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.column - b.column);
    const hints = [...new Set(sorted.filter((p) => p.hint).map((p) => (sorted.length === 1 || !p.path ? p.hint! : `${p.path}: ${p.hint}`)))];
    super(sorted.map(formatProblem).join('\n'), hints.length > 0 ? { hint: hints.join('\n') } : {});
    this.problems = sorted;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** ['hosts', 1, 'port'] -> "hosts[1].port"; keys that are not plain words are quoted: pins["node:20"]. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * Maps a path into the parsed data back to a position in the YAML text. When the path does not exist (a missing
 * key, or a part of a string such as an address's port) it points at the nearest thing that does.
 */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly file: string,
  ) {}

  problem(path: readonly PathSegment[], message: string, hint?: string, options: { atKey?: boolean } = {}): Problem {
    const offset = options.atKey ? this.keyOffset(path) : this.valueOffset(path);
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col, path: formatPath(path), message, ...(hint ? { hint } : {}) };
  }

  /** Start of the value at path, or of the deepest ancestor that exists. */
  private valueOffset(path: readonly PathSegment[]): number {
    let node = this.resolve(this.doc.contents);
    let offset = node?.range?.[0] ?? 0;
    for (const segment of path) {
      const next = this.child(node, segment);
      if (!next) break;
      // `key:` with no value has an empty node; the key is the useful place to point at then.
      const value = this.resolve(next.value);
      offset = value?.range && !(isScalar(value) && value.value === null) ? value.range[0] : (next.key?.range?.[0] ?? offset);
      node = value;
    }
    return offset;
  }

  /** Start of the key node for the last segment (an unknown key, a bad env var name), else as valueOffset. */
  private keyOffset(path: readonly PathSegment[]): number {
    const last = path[path.length - 1];
    if (last === undefined) return this.valueOffset(path);
    const parent = this.nodeAt(path.slice(0, -1));
    return this.child(parent, last)?.key?.range?.[0] ?? this.valueOffset(path);
  }

  private nodeAt(path: readonly PathSegment[]): Node | null | undefined {
    let node = this.resolve(this.doc.contents);
    for (const segment of path) node = this.resolve(this.child(node, segment)?.value);
    return node;
  }

  private child(node: unknown, segment: PathSegment): { key?: Node; value: Node | null | undefined } | undefined {
    if (isMap(node)) {
      // Compare as text: toJS() turns a YAML key `1:` into "1".
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      return pair ? { key: pair.key as Node, value: pair.value as Node | null } : undefined;
    }
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      return item === undefined ? undefined : { value: item as Node | null };
    }
    return undefined;
  }

  // An alias stands for its anchor's node; problems inside it point at where the anchor's content is written.
  private resolve(node: unknown): Node | null | undefined {
    return isAlias(node) ? (node.resolve(this.doc) as Node | undefined) : (node as Node | null | undefined);
  }
}
