/**
 * A Dockerfile parser that understands just enough for policy checks (pinning, lockfiles): which images each stage
 * starts from, which stages depend on which, what RUN executes and what COPY/ADD bring in, each with its line number.
 * It is pure: no file system, no Docker. It follows Docker's own parsing rules where they change what a line means
 * (continuations, comments inside continuations, the escape directive, ARG scoping for FROM), and nothing more.
 * Lines become instructions in dockerfile-lines.ts; which stages and images a build uses is dockerfile-stages.ts.
 */
import { type Instruction, splitInstructions } from './dockerfile-lines.js';

interface ArgDecl {
  name: string;
  default?: string;
  line: number;
}

interface FromInstruction {
  line: number;
  /** The image expression as written, e.g. "node:${NODE_VERSION}-slim". */
  raw: string;
  /** The expression with global ARGs substituted: what BuildKit will resolve. */
  image: string;
  platform?: string;
}

interface RunInstruction {
  line: number;
  /** The command with RUN flags removed; exec form (JSON array) joined with spaces. */
  command: string;
  /** Images or stages used by `--mount=...,from=X`: these are dependencies just like COPY --from. */
  mountFroms: string[];
}

interface CopyInstruction {
  line: number;
  keyword: 'COPY' | 'ADD';
  /** Value of --from, if any: a stage name, a stage index, or an image reference. */
  from?: string;
  sources: string[];
  dest: string;
}

interface Stage {
  index: number;
  /** Lower-cased `AS` name: Docker treats stage names case-insensitively. */
  name?: string;
  from: FromInstruction;
  runs: RunInstruction[];
  copies: CopyInstruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM: the only ones FROM lines can use. */
  globalArgs: ArgDecl[];
  stages: Stage[];
  instructions: Instruction[];
}

/**
 * Substitute $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt} like Docker's shell lexer.
 * An unset variable becomes the empty string (as in Docker); `\$` is a literal dollar.
 */
export function expandVars(word: string, vars: Record<string, string | undefined>): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    if (c === '\\' && word[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    if (word[i + 1] === '{') {
      // Find the matching brace, allowing nested ${...} inside a default.
      let depth = 1;
      let j = i + 2;
      for (; j < word.length && depth > 0; j++) {
        if (word[j] === '{') depth++;
        else if (word[j] === '}') depth--;
      }
      const inner = word.slice(i + 2, j - 1);
      i = j - 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])([\s\S]*))?$/.exec(inner);
      if (!m) continue;
      const value = vars[m[1]!];
      if (m[3] === undefined) {
        out += value ?? '';
        continue;
      }
      const set = m[2] === ':' ? value !== undefined && value !== '' : value !== undefined;
      const alt = expandVars(m[4] ?? '', vars);
      if (m[3] === '-') out += set ? value! : alt;
      else out += set ? alt : '';
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i + 1));
    if (!m) {
      out += '$';
      continue;
    }
    out += vars[m[0]] ?? '';
    i += m[0].length;
  }
  return out;
}

/** Split "--a=b --c x y" into flags and the rest; Docker flags are always `--name[=value]` before the arguments. */
function takeFlags(args: string): { flags: Map<string, string[]>; rest: string } {
  const flags = new Map<string, string[]>();
  let rest = args.trimStart();
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    const list = flags.get(m[1]!.toLowerCase()) ?? [];
    list.push(m[2] ?? 'true');
    flags.set(m[1]!.toLowerCase(), list);
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

/** Exec form (`["a", "b"]`) or whitespace-separated words. */
function words(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(rest);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch {
      // Not valid JSON: Docker falls back to shell form too.
    }
  }
  return rest.split(/\s+/).filter((w) => w !== '');
}

/** Docker's platform ARGs, available in FROM without being declared (BuildKit). Only amd64/arm64 matter here. */
function automaticPlatformArgs(): Record<string, string> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return {
    BUILDPLATFORM: `linux/${arch}`,
    BUILDOS: 'linux',
    BUILDARCH: arch,
    TARGETPLATFORM: `linux/${arch}`,
    TARGETOS: 'linux',
    TARGETARCH: arch,
  };
}

/**
 * Parse a Dockerfile. `buildArgs` override the defaults of global ARGs for FROM substitution; as in Docker, a build
 * arg that no ARG declares does not reach FROM.
 */
export function parseDockerfile(text: string, buildArgs: Record<string, string> = {}): ParsedDockerfile {
  const instructions = splitInstructions(text);
  const globalArgs: ArgDecl[] = [];
  const vars: Record<string, string | undefined> = { ...automaticPlatformArgs() };
  const stages: Stage[] = [];
  for (const ins of instructions) {
    const stage = stages[stages.length - 1];
    switch (ins.keyword) {
      case 'ARG': {
        if (stage) break; // Stage-scoped ARGs never reach FROM lines.
        // `ARG A=1 B=2` declares several at once.
        for (const w of words(ins.args)) {
          const eq = w.indexOf('=');
          const name = eq < 0 ? w : w.slice(0, eq);
          const def = eq < 0 ? undefined : unquote(expandVars(w.slice(eq + 1), vars));
          globalArgs.push({ name, default: def, line: ins.line });
          vars[name] = Object.hasOwn(buildArgs, name) ? buildArgs[name] : def;
        }
        break;
      }
      case 'FROM': {
        const { flags, rest } = takeFlags(ins.args);
        const parts = rest.split(/\s+/).filter((w) => w !== '');
        const raw = parts[0] ?? '';
        const name = parts.length >= 3 && parts[1]!.toUpperCase() === 'AS' ? parts[2]!.toLowerCase() : undefined;
        const platform = flags.get('platform')?.[0];
        stages.push({
          index: stages.length,
          name,
          from: {
            line: ins.line,
            raw,
            image: expandVars(raw, vars),
            platform: platform === undefined ? undefined : expandVars(platform, vars),
          },
          runs: [],
          copies: [],
        });
        break;
      }
      case 'RUN': {
        if (!stage) break;
        const { flags, rest } = takeFlags(ins.args);
        const mountFroms: string[] = [];
        for (const mount of flags.get('mount') ?? []) {
          const from = /(?:^|,)from=([^,]+)/.exec(mount);
          if (from) mountFroms.push(expandVars(from[1]!, vars));
        }
        stage.runs.push({ line: ins.line, command: rest.startsWith('[') ? words(rest).join(' ') : rest, mountFroms });
        break;
      }
      case 'COPY':
      case 'ADD': {
        if (!stage) break;
        const { flags, rest } = takeFlags(ins.args);
        const all = words(rest.split('\n')[0] ?? '');
        const from = flags.get('from')?.[0];
        stage.copies.push({
          line: ins.line,
          keyword: ins.keyword,
          from: from === undefined ? undefined : expandVars(from, vars),
          sources: all.slice(0, -1),
          dest: all[all.length - 1] ?? '',
        });
        break;
      }
      default:
        break;
    }
  }
  return { globalArgs, stages, instructions };
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}
