/**
 * The git revision a release is built from. An image tag must say exactly which source it holds: the commit sha
 * when the work tree is clean; for a dirty tree, the sha plus a hash of the uncommitted changes, so two different
 * dirty builds never share a tag and the same dirty state always gets the same one.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { BoxshipError, InputError } from '../util/errors.js';
import { withDetail } from '../util/sentence.js';

export interface GitRevision {
  /** Absolute path of the repository's top folder (as git prints it: symlinks resolved). */
  root: string;
  /** Full 40-hex HEAD commit. */
  sha: string;
  dirty: boolean;
  /** `<sha>` or `<sha>-dirty-<12 hex>`. */
  tag: string;
  /** Changed and untracked paths (relative to the repository root), empty when clean. */
  changed: string[];
}

export interface GitResult {
  ok: boolean;
  stdout: Buffer;
  stderr: string;
}

// Settings that would change `git diff` output between machines are fixed here, so the dirty hash depends on the
// changes only, not on someone's git config.
const STABLE_CONFIG = [
  '-c',
  'core.quotePath=false',
  '-c',
  'diff.noprefix=false',
  '-c',
  'diff.mnemonicPrefix=false',
  '-c',
  'diff.relative=false',
  '-c',
  'core.autocrlf=false',
];

/**
 * The environment for git: the folder we pass decides the repository, so variables that point git elsewhere (set
 * when boxship runs inside a git hook) are removed.
 */
export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX']) delete env[name];
  return env;
}

/** Runs git in `cwd`; resolves with its exit status as `ok` (a non-zero exit is an answer, not an exception). */
export function git(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...STABLE_CONFIG, ...args],
      // GIT_OPTIONAL_LOCKS=0 (in gitEnv): `git status` must not take the index lock, which would race the user's git.
      { cwd, encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024, env: gitEnv() },
      (err, stdout, stderr) => {
        // A numeric code is git's exit status (an answer); a string code means git could not run at all.
        const code = (err as { code?: unknown } | null)?.code;
        if (code === 'ENOENT') {
          reject(new InputError('git is not installed', { hint: 'install git: boxship tags every image with its commit' }));
          return;
        }
        if (err && typeof code !== 'number') {
          reject(new BoxshipError(`git ${args.join(' ')} failed: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ ok: !err, stdout, stderr: stderr.toString('utf8').trim() });
      },
    );
  });
}

/**
 * Synchronous git for the few places that must answer inside a synchronous callback (the pinning check reads
 * context files that way); throws a BoxshipError on any failure.
 */
export function gitSync(cwd: string, args: string[]): Buffer {
  try {
    return execFileSync('git', [...STABLE_CONFIG, ...args], { cwd, maxBuffer: 1024 * 1024 * 1024, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    throw new BoxshipError(`git ${args.join(' ')} failed in ${cwd}${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
}

/** Paths from `git status --porcelain -z`: "XY path\0", renames and copies followed by "origPath\0". */
export function parsePorcelain(out: Buffer): string[] {
  const fields = out.toString('utf8').split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    paths.push(entry.slice(3));
    if (entry[0] === 'R' || entry[0] === 'C') i++; // skip the original path of a rename/copy
  }
  return paths;
}

/** sha256 over `git diff HEAD --binary` and each untracked, non-ignored file (sorted): its path and its contents. */
async function dirtyHash(root: string): Promise<string> {
  const hash = createHash('sha256');
  const diff = await git(root, [
    'diff',
    'HEAD',
    '--binary',
    '--full-index',
    '--no-color',
    '--no-ext-diff',
    '--no-textconv',
    '--no-renames',
    '--src-prefix=a/',
    '--dst-prefix=b/',
  ]);
  if (!diff.ok) throw new BoxshipError(withDetail(`git diff failed in ${root}`, diff.stderr));
  hash.update(diff.stdout);
  const others = await git(root, ['ls-files', '--others', '--exclude-standard', '-z']);
  if (!others.ok) throw new BoxshipError(withDetail(`git ls-files failed in ${root}`, others.stderr));
  const untracked = others.stdout
    .toString('utf8')
    .split('\0')
    .filter((p) => p !== '')
    .sort();
  for (const rel of untracked) {
    const abs = path.join(root, rel);
    // Path and length are framed with NULs so that moving bytes between a name and a body changes the hash.
    let body: Buffer;
    const st = await lstat(abs).catch(() => undefined);
    if (!st)
      body = Buffer.alloc(0); // deleted meanwhile
    else if (st.isSymbolicLink()) body = Buffer.from(await readlink(abs), 'utf8');
    else if (st.isFile()) body = await readFile(abs);
    else body = Buffer.alloc(0); // a nested repository shows up as a directory: its path is what we have
    hash.update(`\0${rel}\0${body.length}\0`);
    hash.update(body);
  }
  return hash.digest('hex').slice(0, 12);
}

export async function gitRevision(dir: string, options: { allowDirty?: boolean } = {}): Promise<GitRevision> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new InputError(`${dir} is not a folder`, { hint: 'check the path of boxship.yml' });

  const top = await git(dir, ['rev-parse', '--show-toplevel']);
  if (!top.ok) {
    throw new InputError(`${dir} is not inside a git repository`, {
      hint: 'boxship tags each image with its commit: run `git init`, then commit your code',
    });
  }
  const root = top.stdout.toString('utf8').trim();
  const head = await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  if (!head.ok) {
    throw new InputError(`the git repository at ${root} has no commits yet`, {
      hint: 'commit your code first (git add, git commit): boxship tags each image with its commit',
    });
  }
  const sha = head.stdout.toString('utf8').trim();

  const status = await git(root, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  if (!status.ok) throw new BoxshipError(withDetail(`git status failed in ${root}`, status.stderr));
  const changed = parsePorcelain(status.stdout);
  if (changed.length === 0) return { root, sha, dirty: false, tag: sha, changed };

  if (!options.allowDirty) {
    const shown = changed.slice(0, 10).map((p) => `  ${p}`);
    const more = changed.length > 10 ? [`  ... and ${changed.length - 10} more`] : [];
    throw new InputError(`${root} has uncommitted changes:\n${[...shown, ...more].join('\n')}`, {
      hint: 'commit or stash, or pass --allow-dirty',
    });
  }
  return { root, sha, dirty: true, tag: `${sha}-dirty-${await dirtyHash(root)}`, changed };
}
