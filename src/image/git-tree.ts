/**
 * What git holds, as the build context's raw material: the files of a commit (`git ls-tree`, contents through one
 * `git cat-file --batch`), or the files git would commit from the work tree (tracked plus untracked-but-not-ignored,
 * contents from disk). Ignored files never appear in either list.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BoxshipError } from '../util/errors.js';
import { git, gitEnv } from './git.js';
import { withDetail } from '../util/sentence.js';

/** A path in the repository, relative to its root with forward slashes, and where its bytes come from. */
export type RepoFile =
  | { path: string; type: 'file'; executable: boolean; oid: string }
  | { path: string; type: 'symlink'; oid: string }
  | { path: string; type: 'file'; executable: boolean; disk: string }
  | { path: string; type: 'symlink'; disk: string; target: string }
  /** A submodule: `git archive` gives it as an empty folder, and so do we. */
  | { path: string; type: 'dir' };

/** The files of `commit`'s tree, as `git archive` would give them (without .gitattributes export rules). */
export async function commitFiles(root: string, commit: string): Promise<RepoFile[]> {
  const r = await git(root, ['ls-tree', '-r', '-z', '--full-tree', commit]);
  if (!r.ok) throw new BoxshipError(withDetail(`git ls-tree ${commit} failed in ${root}`, r.stderr));
  const files: RepoFile[] = [];
  for (const record of r.stdout.toString('utf8').split('\0')) {
    if (record === '') continue;
    // "<mode> SP <type> SP <object> TAB <path>"
    const tab = record.indexOf('\t');
    const [mode, , oid] = record.slice(0, tab).split(' ') as [string, string, string];
    const p = record.slice(tab + 1);
    if (mode === '120000') files.push({ path: p, type: 'symlink', oid });
    else if (mode === '160000') files.push({ path: p, type: 'dir' });
    else files.push({ path: p, type: 'file', executable: mode === '100755', oid });
  }
  return files;
}

/**
 * What `git add -A` would commit, read from disk: tracked files (as modified; deleted ones left out) and untracked
 * files that no .gitignore rule ignores. This is what a `<sha>-dirty-<hash>` tag's hash covers.
 */
export async function worktreeFiles(root: string): Promise<RepoFile[]> {
  const r = await git(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  if (!r.ok) throw new BoxshipError(withDetail(`git ls-files failed in ${root}`, r.stderr));
  // An unmerged path is listed once per stage; a nested repository is listed as "dir/".
  const paths = [
    ...new Set(
      r.stdout
        .toString('utf8')
        .split('\0')
        .filter((p) => p !== ''),
    ),
  ].sort();
  const files: RepoFile[] = [];
  for (const rel of paths) {
    const p = rel.endsWith('/') ? rel.slice(0, -1) : rel;
    const disk = path.join(root, p);
    const st = await lstat(disk).catch(() => undefined);
    if (!st) continue; // deleted in the work tree: not part of what would be committed
    if (st.isSymbolicLink()) files.push({ path: p, type: 'symlink', disk, target: await readlink(disk) });
    else if (st.isFile()) files.push({ path: p, type: 'file', executable: (st.mode & 0o111) !== 0, disk });
    else if (st.isDirectory()) files.push({ path: p, type: 'dir' });
  }
  return files;
}

/** Whether git tracks `rel` (root-relative) in `commit` or in the index. */
export async function isTracked(root: string, commit: string, rel: string): Promise<boolean> {
  const inCommit = await git(root, ['--literal-pathspecs', 'ls-tree', '-z', '--full-tree', '--name-only', commit, '--', rel]);
  if (inCommit.ok && inCommit.stdout.length > 0) return true;
  const inIndex = await git(root, ['--literal-pathspecs', 'ls-files', '-z', '--cached', '--', rel]);
  return inIndex.ok && inIndex.stdout.length > 0;
}

/** Committer time of `commit`: the mtime of every file in the context, as `git archive` sets it. */
export async function commitTime(root: string, commit: string): Promise<Date> {
  const r = await git(root, ['log', '-1', '--format=%ct', commit]);
  const seconds = Number(r.stdout.toString('utf8').trim());
  if (!r.ok || !Number.isFinite(seconds)) throw new BoxshipError(withDetail(`git log ${commit} failed in ${root}`, r.stderr));
  return new Date(seconds * 1000);
}

/** Above this many buffered bytes the reader stops reading git's output until some is consumed. */
const HIGH_WATER = 8 * 1024 * 1024;

/**
 * Reads blobs through one `git cat-file --batch` process: one process for thousands of files instead of one each.
 * Calls must not overlap (each waits for the previous answer); the build context reads files one after another.
 */
export class BlobReader {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private stderr = '';
  private wake: (() => void) | undefined;

  constructor(private readonly root: string) {
    this.child = spawn('git', ['cat-file', '--batch'], { cwd: root, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered > HIGH_WATER) this.child.stdout.pause();
      this.notify();
    });
    const end = () => {
      this.ended = true;
      this.notify();
    };
    this.child.stdout.on('end', end);
    this.child.on('error', end);
    this.child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString('utf8')));
    // Writing after git died must surface as a failed read, not as an unhandled EPIPE.
    this.child.stdin.on('error', end);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits until `n` bytes are buffered; false when git ended first. */
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (this.ended) return false;
      this.child.stdout.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return true;
  }

  /** The next `n` buffered bytes (callers have made sure they are there), copying only the chunks they span. */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    if (this.buffered <= HIGH_WATER) this.child.stdout.resume();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private async line(): Promise<string | undefined> {
    for (;;) {
      let offset = 0;
      for (const c of this.chunks) {
        const nl = c.indexOf(10);
        if (nl >= 0) {
          const text = this.take(offset + nl + 1).toString('utf8');
          return text.slice(0, -1);
        }
        offset += c.length;
      }
      if (!(await this.fill(this.buffered + 1))) return undefined;
    }
  }

  async read(oid: string): Promise<Buffer> {
    this.child.stdin.write(`${oid}\n`);
    const header = await this.line();
    // "<oid> blob <size>", or "<oid> missing"
    const m = header === undefined ? null : /^[0-9a-f]+ blob (\d+)$/.exec(header);
    if (!m) throw new BoxshipError(`cannot read ${oid} from the git repository at ${this.root}: ${header ?? (this.stderr.trim() || 'git cat-file ended')}`);
    const size = Number(m[1]);
    if (!(await this.fill(size + 1))) throw new BoxshipError(`git cat-file ended while reading ${oid} in ${this.root}`);
    const body = Buffer.from(this.take(size));
    this.take(1); // the newline after each object
    return body;
  }

  close(): void {
    this.child.stdin.end();
    this.child.stdout.resume();
  }
}
