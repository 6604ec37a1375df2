/**
 * A Dockerfile parser that understands just enough for policy checks (pinning, lockfiles): which images each stage
 * starts from, which stages depend on which, what RUN executes and what COPY/ADD bring in, each with its line number.
 * It is pure: no file system, no Docker. It follows Docker's own parsing rules where they change what a line means
 * (continuations, comments inside continuations, the escape directive, ARG scoping for FROM), and nothing more.
 */

interface ArgDecl {
  name: string;
  default?: string;
  line: number;
}

/** One logical instruction: continuation lines joined, comment lines inside it dropped. */
export interface Instruction {
  /** Upper-cased keyword, e.g. "RUN". */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space; heredoc bodies appended after a newline. */
  args: string;
  /** 1-based line of the keyword; problems are reported here. */
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

/** Where an image (not a stage, not scratch) is pulled into the build. */
export interface ImageUse {
  /** The reference after ARG substitution. */
  ref: string;
  /** As written in the Dockerfile, before substitution (FROM only; otherwise same as ref). */
  written: string;
  line: number;
  via: 'FROM' | 'COPY --from' | 'RUN --mount';
  stage: number;
  /** `FROM --platform=…` (expanded): the platform this use of the image is for. */
  platform?: string;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;

/**
 * Split the text into logical instructions. Parser directives (`# escape=`, `# syntax=`, `# check=`) are read only
 * for the escape character, which changes what a line continuation looks like; otherwise they are comments.
 */
export function splitInstructions(text: string): Instruction[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let escapeChar = '\\';
  let i = 0;
  // Directives must come first; the first non-directive line (even a blank one) ends them, as in Docker.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i] ?? '');
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
  }
  const out: Instruction[] = [];
  while (i < lines.length) {
    const first = lines[i] ?? '';
    if (first.trim() === '' || first.trim().startsWith('#')) {
      i++;
      continue;
    }
    const startLine = i + 1;
    let joined = '';
    let current = first;
    for (;;) {
      const trimmed = current.replace(/\s+$/, '');
      i++;
      if (trimmed.endsWith(escapeChar)) {
        joined += trimmed.slice(0, -1);
        // Docker skips comment lines and blank lines inside a continuation rather than ending the instruction.
        while (i < lines.length && /^\s*(#.*)?$/.test(lines[i] ?? '')) i++;
        if (i >= lines.length) break;
        current = lines[i] ?? '';
        continue;
      }
      joined += trimmed;
      break;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    let args = m[2]!.trim();
    // Heredocs (`RUN <<EOF`): their bodies are part of the instruction, not new instructions. A `<<` must start a
    // word, and a heredoc whose terminator never comes is not one (e.g. `echo "a <<b"`): nothing is consumed then.
    if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const d of args.matchAll(/(?:^|\s)<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const stripTabs = d[1] === '-';
        const word = d[3]!;
        const body: string[] = [];
        let j = i;
        let closed = false;
        while (j < lines.length) {
          const l = stripTabs ? (lines[j++] ?? '').replace(/^\t+/, '') : (lines[j++] ?? '');
          if (l === word) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) continue;
        i = j;
        args += `\n${body.join('\n')}`;
      }
    }
    out.push({ keyword, args, line: startLine });
  }
  return out;
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

/**
 * The stage a reference names, as BuildKit resolves it: a name of an earlier stage (case-insensitive), or for
 * --from a numeric index of an earlier stage. Anything else is an image.
 */
function stageNamed(df: ParsedDockerfile, ref: string, before: number, allowIndex: boolean): Stage | undefined {
  if (allowIndex && /^\d+$/.test(ref)) {
    const idx = Number(ref);
    return idx < before ? df.stages[idx] : undefined;
  }
  const lower = ref.toLowerCase();
  for (let i = before - 1; i >= 0; i--) if (df.stages[i]!.name === lower) return df.stages[i];
  return undefined;
}

/**
 * Indices of the stages a build of `target` needs: the target and everything it reaches through FROM <stage>,
 * COPY --from=<stage> and RUN --mount from=<stage>. Without a target: every stage (stricter than BuildKit, which
 * builds only what the last stage needs, so that a later `--target` cannot bring an unchecked stage in).
 * Returns undefined when the target names no stage.
 */
export function usedStages(df: ParsedDockerfile, target?: string): Set<number> | undefined {
  if (target === undefined || target === '') return new Set(df.stages.map((s) => s.index));
  const start = df.stages.find((s) => s.name === target.toLowerCase());
  if (!start) return undefined;
  const used = new Set<number>();
  const queue = [start.index];
  while (queue.length > 0) {
    const idx = queue.pop()!;
    if (used.has(idx)) continue;
    used.add(idx);
    const stage = df.stages[idx]!;
    const deps = [
      stageNamed(df, stage.from.image, idx, false),
      ...stage.copies.map((c) => (c.from === undefined ? undefined : stageNamed(df, c.from, idx, true))),
      ...stage.runs.flatMap((r) => r.mountFroms.map((f) => stageNamed(df, f, idx, true))),
    ];
    for (const d of deps) if (d) queue.push(d.index);
  }
  return used;
}

/** Every image (not a stage, not scratch) the given stages pull in, in Dockerfile order. */
export function imageUses(df: ParsedDockerfile, stages: Set<number>): ImageUse[] {
  const uses: ImageUse[] = [];
  for (const stage of df.stages) {
    if (!stages.has(stage.index)) continue;
    const add = (ref: string, line: number, via: ImageUse['via'], allowIndex: boolean, written = ref, platform?: string) => {
      if (ref.toLowerCase() === 'scratch' || stageNamed(df, ref, stage.index, allowIndex)) return;
      uses.push({ ref, written, line, via, stage: stage.index, ...(platform ? { platform } : {}) });
    };
    add(stage.from.image, stage.from.line, 'FROM', false, stage.from.raw, stage.from.platform);
    for (const c of stage.copies) if (c.from !== undefined) add(c.from, c.line, 'COPY --from', true);
    for (const r of stage.runs) for (const f of r.mountFroms) add(f, r.line, 'RUN --mount', true);
  }
  return uses.sort((a, b) => a.line - b.line);
}
