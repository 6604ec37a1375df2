/**
 * What a RUN command installs with a package manager, and whether it installs exactly what a lockfile records.
 * This is a heuristic over shell text, not a shell parser: it splits on shell operators, drops quotes, and looks for
 * npm / yarn / pnpm / pip invocations anywhere in each simple command (so `sh -c "npm ci"` is seen too).
 */

type PackageTool = 'npm' | 'yarn' | 'pnpm' | 'pip';

export interface PackageInstall {
  tool: PackageTool;
  /** The invocation as seen, for messages, e.g. "npm install --omit=dev". */
  text: string;
  /** Installs exactly what a lockfile records: npm ci, yarn --frozen-lockfile/--immutable, pnpm --frozen-lockfile. */
  usesLockfile: boolean;
  /** npm install -g of named packages that all carry an exact version: pinned, though no lockfile is involved. */
  exactGlobal: boolean;
  /** pip: files passed with -r / --requirement. */
  requirementFiles: string[];
  /** pip: --require-hashes was given. */
  requireHashes: boolean;
}

// npm's aliases for `ci` and for `install` (npm accepts a few misspellings on purpose).
const NPM_CI = new Set(['ci', 'clean-install', 'ic', 'install-clean', 'isntall-clean']);
const NPM_INSTALL = new Set(['install', 'i', 'in', 'ins', 'inst', 'insta', 'instal', 'isnt', 'isnta', 'isntal', 'isntall', 'add']);
// Flags that take the next word as their value, so that value is not mistaken for the subcommand.
const VALUED_FLAGS = new Set(['--prefix', '-C', '--cwd', '--dir', '--workspace', '-w', '--cache', '--registry', '--loglevel', '--filter', '-F']);

const EXACT_SPEC = /^(@[^/\s]+\/)?[^@\s]+@v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** Split shell text into simple commands, each a list of words with quotes removed. */
function simpleCommands(command: string): string[][] {
  return command
    .split(/&&|\|\||[;|&\n()`]|\$\(/)
    .map((part) =>
      part
        .replace(/["']/g, '')
        .split(/\s+/)
        .filter((w) => w !== ''),
    )
    .filter((words) => words.length > 0);
}

function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/** First non-flag word and the words after the tool name (skipping values of known valued flags). */
function subcommand(args: string[]): { sub?: string; flags: string[]; operands: string[] } {
  const flags: string[] = [];
  const operands: string[] = [];
  let sub: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.startsWith('-')) {
      flags.push(w);
      if (VALUED_FLAGS.has(w)) i++;
      continue;
    }
    if (sub === undefined) sub = w;
    else operands.push(w);
  }
  return { sub, flags, operands };
}

function analyse(words: string[]): PackageInstall | undefined {
  for (let i = 0; i < words.length; i++) {
    const name = basename(words[i]!);
    const rest = words.slice(i + 1);
    const base = { text: [name, ...rest].join(' '), usesLockfile: false, exactGlobal: false, requirementFiles: [], requireHashes: false };
    if (name === 'npm') {
      const { sub, flags, operands } = subcommand(rest);
      if (sub === undefined) return undefined;
      if (NPM_CI.has(sub)) return { ...base, tool: 'npm', usesLockfile: true };
      if (!NPM_INSTALL.has(sub)) return undefined;
      const global = flags.some((f) => f === '-g' || f === '--global' || f === '--location=global');
      const exactGlobal = global && operands.length > 0 && operands.every((o) => EXACT_SPEC.test(o));
      return { ...base, tool: 'npm', exactGlobal };
    }
    if (name === 'yarn') {
      const { sub, flags } = subcommand(rest);
      // Bare `yarn` is `yarn install`.
      if (sub === undefined || sub === 'install') {
        return { ...base, tool: 'yarn', usesLockfile: flags.includes('--frozen-lockfile') || flags.includes('--immutable') };
      }
      if (sub === 'add' || sub === 'global') return { ...base, tool: 'yarn' };
      return undefined;
    }
    if (name === 'pnpm') {
      const { sub, flags } = subcommand(rest);
      if (sub === 'install' || sub === 'i') return { ...base, tool: 'pnpm', usesLockfile: flags.includes('--frozen-lockfile') };
      if (sub === 'add') return { ...base, tool: 'pnpm' };
      return undefined;
    }
    const isPip = /^pip(\d+(\.\d+)?)?$/.test(name);
    const isPythonPip = /^python(\d+(\.\d+)?)?$/.test(name) && rest[0] === '-m' && rest[1] === 'pip';
    if (isPip || isPythonPip) {
      const pipArgs = isPip ? rest : rest.slice(2);
      if (pipArgs.find((w) => !w.startsWith('-')) !== 'install') return undefined;
      const requirementFiles: string[] = [];
      for (let j = 0; j < pipArgs.length; j++) {
        const w = pipArgs[j]!;
        if (w === '-r' || w === '--requirement') {
          if (pipArgs[j + 1] !== undefined) requirementFiles.push(pipArgs[++j]!);
        } else if (w.startsWith('--requirement=')) requirementFiles.push(w.slice('--requirement='.length));
        else if (w.startsWith('-r') && w.length > 2) requirementFiles.push(w.slice(2).replace(/^=/, ''));
      }
      return { ...base, tool: 'pip', requirementFiles, requireHashes: pipArgs.includes('--require-hashes') };
    }
  }
  return undefined;
}

/** Every package-manager install in one RUN command, in order. */
export function packageInstalls(command: string): PackageInstall[] {
  return simpleCommands(command).flatMap((words) => analyse(words) ?? []);
}
