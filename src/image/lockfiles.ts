/**
 * Lockfile rules: a release must install exactly the dependency versions the repository records, so rebuilding the
 * same commit gives the same dependencies. Only the context root is looked at: that is where a Dockerfile's
 * `COPY package*.json ./` finds them in the usual layout. A Node lockfile counts only when the image copies it and has
 * Node: one that only a tool beside the app uses (boxship's own, in a Python app) is not the app's.
 */
import { createHash } from 'node:crypto';
import type { ParsedDockerfile } from './dockerfile.js';
import { contextFileCopied, nodeInImage } from './image-uses.js';
import { packageInstalls, type PackageInstall } from './install-commands.js';
import { problem, type PolicyProblem } from './problem.js';

export interface LockfileRecord {
  /** Path relative to the build context, with forward slashes. */
  path: string;
  sha256: string;
}

export interface LockfileInput {
  /** Dockerfile path as shown in messages. */
  dockerfilePath: string;
  dockerfile: ParsedDockerfile;
  /** Stages the build uses: RUN lines elsewhere neither help nor hurt. */
  stages: Set<number>;
  /** Whether a path (relative to the context, forward slashes) is in the build context after .dockerignore. */
  hasFile: (rel: string) => boolean;
  /** Contents of a context file that hasFile said exists. */
  readFile: (rel: string) => Buffer;
  /** All context files, when known: lets `pip -r /app/reqs/prod.txt` find reqs/prod.txt by suffix. */
  files?: string[];
}

/** Lockfiles recorded in the image labels when present, whether or not a rule looks at them. */
const KNOWN_LOCKFILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'requirements.txt',
  'Pipfile.lock',
  'poetry.lock',
  'uv.lock',
  'go.sum',
  'Cargo.lock',
  'Gemfile.lock',
  'composer.lock',
];

const NODE_LOCKS: Record<string, 'npm' | 'yarn' | 'pnpm'> = {
  'package-lock.json': 'npm',
  'npm-shrinkwrap.json': 'npm',
  'yarn.lock': 'yarn',
  'pnpm-lock.yaml': 'pnpm',
};

const FROZEN_COMMAND: Record<string, string> = {
  npm: 'npm ci',
  yarn: 'yarn install --frozen-lockfile (or --immutable)',
  pnpm: 'pnpm install --frozen-lockfile',
};

interface Located {
  line: number;
  install: PackageInstall;
}

export function checkLockfiles(input: LockfileInput): { problems: PolicyProblem[]; lockfiles: LockfileRecord[] } {
  const { dockerfilePath: file, dockerfile, stages } = input;
  const problems: PolicyProblem[] = [];
  const installs: Located[] = dockerfile.stages
    .filter((s) => stages.has(s.index))
    .flatMap((s) => s.runs.flatMap((r) => packageInstalls(r.command).map((install) => ({ line: r.line, install }))));

  // Any Node install that resolves versions itself is a problem, lockfile or not: it is what makes builds drift.
  const unlocked = installs.filter((i) => i.install.tool !== 'pip' && !i.install.usesLockfile && !i.install.exactGlobal);
  for (const { line, install } of unlocked) {
    const lock = install.tool === 'npm' ? 'package-lock.json' : install.tool === 'yarn' ? 'yarn.lock' : 'pnpm-lock.yaml';
    problems.push(
      problem(
        file,
        line,
        `RUN ${install.text} installs without the lockfile`,
        `use \`${FROZEN_COMMAND[install.tool]}\`, which installs exactly what ${lock} records` +
          (install.tool === 'npm' ? '; a global tool needs an exact version (npm install -g name@1.2.3)' : ''),
      ),
    );
  }

  // Only the app's own Node files count: ones the used stages copy, into an image that has Node (image-uses.ts).
  const copied = (f: string) => input.hasFile(f) && contextFileCopied(dockerfile, stages, f);
  if (copied('package.json') && nodeInImage(dockerfile, stages)) {
    const present = Object.keys(NODE_LOCKS).filter((f) => input.hasFile(f));
    const used = present.filter(copied);
    const tools = new Set<string>(used.map((f) => NODE_LOCKS[f]!));
    const lockedInstall = installs.some((i) => i.install.usesLockfile && tools.has(i.install.tool));
    const anchor = installs.find((i) => i.install.tool !== 'pip')?.line ?? lastUsedFromLine(input);
    if (present.length === 0) {
      problems.push(
        problem(
          file,
          anchor,
          'package.json is in the build context but no lockfile is (package-lock.json, npm-shrinkwrap.json, yarn.lock or pnpm-lock.yaml)',
          'run `npm install` locally and commit package-lock.json; check that .dockerignore does not exclude it',
        ),
      );
    } else if (used.length > 0 && !lockedInstall && unlocked.length === 0) {
      // Unlocked installs were reported above; this is for a Dockerfile that installs nothing, or with another tool.
      const tool = NODE_LOCKS[used[0]!]!;
      problems.push(
        problem(
          file,
          anchor,
          `${used.join(', ')} is in the build context but no RUN installs from it`,
          `install dependencies with \`RUN ${FROZEN_COMMAND[tool]}\` so the image gets exactly the locked versions`,
        ),
      );
    }
  }

  for (const { line, install } of installs) {
    if (install.tool !== 'pip' || install.requireHashes) continue;
    for (const req of install.requirementFiles) {
      const rel = findContextFile(input, req);
      if (rel !== undefined && everyRequirementHashed(input.readFile(rel).toString('utf8'))) continue;
      problems.push(
        problem(
          file,
          line,
          `RUN ${install.text} installs ${req} without --require-hashes${rel === undefined ? '' : `, and not every requirement in ${rel} carries --hash=`}`,
          'generate hashes (`pip-compile --generate-hashes`) and install with `pip install --require-hashes -r requirements.txt`',
        ),
      );
    }
  }

  const lockfiles = KNOWN_LOCKFILES.filter((f) => input.hasFile(f)).map((path) => ({
    path,
    sha256: createHash('sha256').update(input.readFile(path)).digest('hex'),
  }));
  return { problems, lockfiles };
}

function lastUsedFromLine(input: LockfileInput): number {
  const used = input.dockerfile.stages.filter((s) => input.stages.has(s.index));
  return used[used.length - 1]?.from.line ?? 1;
}

/**
 * Map a path as pip sees it inside the image (`/app/requirements.txt`, `reqs/prod.txt`) to a context file: exact
 * path first, then the longest suffix that names a context file. Good enough for the usual `COPY requirements.txt .`.
 */
function findContextFile(input: LockfileInput, containerPath: string): string | undefined {
  const parts = containerPath
    .replace(/^\.\//, '')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  for (let i = 0; i < parts.length; i++) {
    const candidate = parts.slice(i).join('/');
    if (input.files ? input.files.includes(candidate) : input.hasFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * pip enters hash-checking mode by itself when every requirement carries --hash=, so such a file is pinned even
 * without --require-hashes. Continuation lines are joined; comments, blanks and option lines (-r, --index-url) skipped.
 */
export function everyRequirementHashed(text: string): boolean {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('-'));
  return logical.length > 0 && logical.every((l) => /\s--hash[=\s]/.test(` ${l}`));
}
