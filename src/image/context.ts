/**
 * The build context: the files sent to the engine. An image is tagged with a commit, so by default its context is
 * that commit's tree (contents from git, not from the work tree): git-ignored files, such as a local secrets file or
 * scratch output, can never end up in a layer behind a sha that never held them. `--allow-dirty` takes what
 * `git add -A` would commit instead (the tag then says dirty). Files from outside git come in only when
 * build.include names them, and are hashed into a label.
 *
 * With a tar body (`POST /build`), the engine does not apply .dockerignore itself (the CLI normally does), so it is
 * applied here (dockerignore.ts). The same selection gives the file list the pinning checks look at, so they judge exactly what the
 * build sees.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { InputError } from '../util/errors.js';
import { applyDockerignore } from './dockerignore.js';
import { gitSync } from './git.js';
import { BlobReader, commitFiles, commitTime, isTracked, worktreeFiles, type RepoFile } from './git-tree.js';

/** Where the context's files come from: the commit's tree, or what `git add -A` would commit (`--allow-dirty`). */
export type ContextSource = 'commit' | 'worktree';

export interface ContextOptions {
  /** Repository root and commit, from gitRevision: the context is cut from the same commit the tag names. */
  root: string;
  sha: string;
  source: ContextSource;
  contextDir: string;
  dockerfilePath: string;
  /** config.build.include: files from outside git, relative to the context, forward slashes. */
  include?: string[];
  /** config.app.secretsFile (absolute): never sent, whatever the source. */
  secretsFile?: string;
  /** The accessories' secrets files (absolute), by the key that names them: never sent either. */
  otherSecrets?: { path: string; key: string }[];
}

/** A file named in build.include, as recorded in the image label and listed in the build output. */
export interface IncludedFile {
  path: string;
  sha256: string;
}

/** Where one context entry's bytes come from. */
type EntrySource = RepoFile | { path: string; type: 'file'; executable: boolean; data: Buffer };

export interface BuildContext {
  /** Absolute context folder (symlinks resolved). */
  dir: string;
  source: ContextSource;
  /** Files and symlinks that are sent, relative, forward slashes, sorted. */
  files: string[];
  /** Folders that are sent: not ignored themselves, or holding something that is. */
  dirs: string[];
  /** Name of the Dockerfile inside the tar: what `dockerfile` must be set to in the build request. */
  dockerfileName: string;
  /** The Dockerfile the build uses, from the same source as the rest (the commit, by default). */
  dockerfile: Buffer;
  /** When the Dockerfile lives outside the context, its contents, added to the tar under dockerfileName. */
  outsideDockerfile?: Buffer;
  /** Files added by build.include, with their hashes. */
  included: IncludedFile[];
  /** Sent files whose names look like secrets (`.env*`, `*.pem`, `*.key`, `id_*`) and that build.include does not name. */
  suspicious: string[];
  /** mtime of every entry in the tar: the commit's time, so that the same tree always gives the same tar. */
  mtime: Date;
  /** Contents of a sent file (a symlink is followed inside the context). */
  readFile(rel: string): Buffer;
  /** Internal: every sent file or symlink by its context path. */
  entries: Map<string, EntrySource>;
  /** Internal: the repository root, for reading blobs. */
  root: string;
}

/** Where a Dockerfile from outside the context goes in the tar; an unlikely name, checked for collisions. */
const OUTSIDE_NAME = '.boxship.Dockerfile';

function toPosix(rel: string): string {
  return rel.split(path.sep).join('/');
}

/** `rel` when `abs` is inside `dir` (or is it: ''), undefined when outside. */
function inside(dir: string, abs: string): string | undefined {
  const rel = path.relative(dir, abs);
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined;
  return toPosix(rel);
}

/** The path with symlinks resolved as far as it exists, so that it compares with what git prints. */
async function resolveReal(p: string): Promise<string> {
  const abs = path.resolve(p);
  const real = await realpath(abs).catch(() => undefined);
  if (real !== undefined) return real;
  const parent = await realpath(path.dirname(abs)).catch(() => path.dirname(abs));
  return path.join(parent, path.basename(abs));
}

/**
 * Names that usually hold credentials. Only names: reading every file to sniff for keys would cost more than the
 * build, and a name is what a person can act on (.dockerignore it, or name it in build.include on purpose).
 */
export function looksLikeSecret(rel: string): boolean {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  return base.startsWith('.env') || base.endsWith('.pem') || base.endsWith('.key') || /^id_[A-Za-z0-9_-]+$/.test(base);
}

function readEntry(root: string, entry: EntrySource): Buffer {
  if ('data' in entry) return entry.data;
  if ('oid' in entry) return gitSync(root, ['cat-file', 'blob', entry.oid]);
  if (entry.type === 'dir') return Buffer.alloc(0);
  return readFileSync(entry.disk);
}

export async function selectContext(options: ContextOptions): Promise<BuildContext> {
  const { root, sha, source } = options;
  const st = await lstat(options.contextDir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new InputError(`build context ${path.resolve(options.contextDir)} is not a folder`, { hint: 'check build.context in boxship.yml' });
  const dir = await realpath(options.contextDir);
  const prefix = inside(root, dir);
  if (prefix === undefined) {
    throw new InputError(`build context ${dir} is outside the git repository ${root}`, {
      hint: 'the image is built from a commit: point build.context in boxship.yml at a folder of that repository',
    });
  }
  const where = source === 'commit' ? `commit ${sha.slice(0, 12)}` : 'the work tree (tracked or not ignored)';

  const all = source === 'commit' ? await commitFiles(root, sha) : await worktreeFiles(root);
  const byRootPath = new Map(all.map((f) => [f.path, f]));
  const candidates = new Map<string, EntrySource>();
  for (const f of all) {
    const rel = prefix === '' ? f.path : f.path.startsWith(`${prefix}/`) ? f.path.slice(prefix.length + 1) : undefined;
    if (rel !== undefined) candidates.set(rel, f);
  }

  // The secrets file: refused when git tracks it (it is in the commit, so in every clone), and never sent otherwise.
  const secretsAbs = options.secretsFile === undefined ? undefined : await resolveReal(options.secretsFile);
  const secretsInRepo = secretsAbs === undefined ? undefined : inside(root, secretsAbs);
  if (secretsInRepo !== undefined && secretsInRepo !== '' && (await isTracked(root, sha, secretsInRepo))) {
    throw new InputError(`the secrets file ${secretsAbs} (app.secrets_file) is tracked by git, so it would be part of the image and of every clone`, {
      hint: `run \`git rm --cached ${secretsInRepo}\`, add it to .gitignore and commit; then rotate the secrets it holds`,
    });
  }
  const secretsRel = secretsAbs === undefined ? undefined : inside(dir, secretsAbs);
  if (secretsRel !== undefined) candidates.delete(secretsRel);
  // The accessories' secrets files the same way (build.include naming one is refused when boxship.yml is read).
  for (const other of options.otherSecrets ?? []) {
    const abs = await resolveReal(other.path);
    const inRepo = inside(root, abs);
    if (inRepo !== undefined && inRepo !== '' && (await isTracked(root, sha, inRepo))) {
      throw new InputError(`the secrets file ${abs} (${other.key}) is tracked by git, so it would be part of the image and of every clone`, {
        hint: `run \`git rm --cached ${inRepo}\`, add it to .gitignore and commit; then rotate the secrets it holds`,
      });
    }
    const rel = inside(dir, abs);
    if (rel !== undefined) candidates.delete(rel);
  }

  // Files from outside git, read once here: what is hashed is what is sent.
  const included: IncludedFile[] = [];
  const includedEntries = new Map<string, EntrySource>();
  for (const rel of options.include ?? []) {
    const abs = path.join(dir, rel);
    if (secretsRel !== undefined && (rel === secretsRel || (await resolveReal(abs)) === secretsAbs)) {
      throw new InputError(`build.include names ${rel}, the secrets file (app.secrets_file): it must never be part of an image`, {
        hint: 'remove it from build.include in boxship.yml; the app gets its values as environment variables at run time',
      });
    }
    const rootRel = `${prefix === '' ? '' : `${prefix}/`}${rel}`;
    if (await isTracked(root, sha, rootRel)) {
      throw new InputError(`build.include names ${rel}, which git tracks: the commit already holds it`, {
        hint: 'remove it from build.include in boxship.yml (build.include is for files from outside git)',
      });
    }
    // stat, not lstat: a symlink named here is sent as the file it points to, which is what was hashed.
    const fst = await stat(abs).catch(() => undefined);
    const data = fst?.isFile() ? await readFile(abs).catch(() => undefined) : undefined;
    if (!fst || data === undefined)
      throw new InputError(`build.include names ${rel}, but ${abs} is not a readable file`, {
        hint: 'create the file, or remove it from build.include in boxship.yml',
      });
    const executable = (fst.mode & 0o111) !== 0;
    includedEntries.set(rel, { path: rel, type: 'file', executable, data });
    included.push({ path: rel, sha256: createHash('sha256').update(data).digest('hex') });
  }

  // The Dockerfile comes from the same source as the rest: a Dockerfile edited but not committed is not built.
  const dfAbs = await resolveReal(options.dockerfilePath);
  const dfRel = inside(dir, dfAbs);
  const dfInRepo = inside(root, dfAbs);
  let dockerfile: Buffer;
  if (dfInRepo !== undefined) {
    // The path is resolved on disk already, so a symlinked Dockerfile is looked up where it points.
    const entry = byRootPath.get(dfInRepo);
    if (entry === undefined || entry.type !== 'file') {
      throw new InputError(`Dockerfile ${dfAbs} is not in ${where}`, {
        hint:
          source === 'commit'
            ? 'commit it (or check build.dockerfile in boxship.yml)'
            : 'check build.dockerfile in boxship.yml, and that .gitignore does not ignore it',
      });
    }
    dockerfile = readEntry(root, entry);
  } else {
    const data = await readFile(dfAbs).catch(() => undefined);
    if (data === undefined) throw new InputError(`Dockerfile ${dfAbs} does not exist`, { hint: 'check build.dockerfile in boxship.yml' });
    dockerfile = data;
  }

  const ignoreEntry = candidates.get('.dockerignore');
  const ignoreText = ignoreEntry && ignoreEntry.type === 'file' ? readEntry(root, ignoreEntry).toString('utf8') : '';
  // Docker always sends these two, even when .dockerignore lists them: the engine needs them to build. Files named
  // in build.include are sent too: naming a file there is explicit.
  const alwaysKept = new Set(['.dockerignore', ...(dfRel !== undefined ? [dfRel] : []), ...includedEntries.keys()]);
  const entries = new Map<string, EntrySource>([...candidates, ...includedEntries]);
  const { files, dirs } = applyDockerignore(
    [...entries].map(([rel, entry]) => ({ path: rel, dir: entry.type === 'dir' })),
    ignoreText,
    alwaysKept,
  );
  const sent = new Set(files);
  for (const rel of entries.keys()) if (!sent.has(rel)) entries.delete(rel);

  let dockerfileName = dfRel ?? OUTSIDE_NAME;
  let outsideDockerfile: Buffer | undefined;
  if (dfRel === undefined) {
    while (sent.has(dockerfileName)) dockerfileName = `_${dockerfileName}`;
    outsideDockerfile = dockerfile;
  }

  const readContext = (rel: string, depth = 0): Buffer => {
    const entry = entries.get(rel);
    if (entry === undefined) throw new Error(`${rel} is not in the build context`);
    if (entry.type !== 'symlink') return readEntry(root, entry);
    const target = 'target' in entry ? entry.target : readEntry(root, entry).toString('utf8');
    if (depth > 20) throw new Error(`${rel}: too many levels of symbolic links`);
    return readContext(path.posix.normalize(path.posix.join(path.posix.dirname(rel), target)), depth + 1);
  };

  return {
    dir,
    source,
    files,
    dirs,
    dockerfileName,
    dockerfile,
    ...(outsideDockerfile !== undefined ? { outsideDockerfile } : {}),
    included,
    suspicious: files.filter((f) => !includedEntries.has(f) && looksLikeSecret(f)),
    mtime: await commitTime(root, sha),
    readFile: (rel) => readContext(rel),
    entries,
    root,
  };
}

/**
 * The selected context as an uncompressed tar stream (the engine socket is local; gzip would only cost CPU).
 * Owner is root (uid/gid 0) and every mtime the commit's, so that the image does not depend on who built it or when
 * the files were checked out. Modes are git's: 0755 for executables and folders, 0644 otherwise.
 */
export function packContext(ctx: BuildContext): Readable {
  const pack = tarStream.pack();
  const base = { uid: 0, gid: 0, uname: '', gname: '', mtime: ctx.mtime };
  const add = (header: Partial<tarStream.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      // The callback fires once the entry is taken in: awaiting it keeps at most one file ahead of the engine.
      pack.entry({ ...base, ...header }, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  const produce = async () => {
    const blobs = ctx.source === 'commit' ? new BlobReader(ctx.root) : undefined;
    try {
      const bytes = async (e: EntrySource): Promise<Buffer> => {
        if ('data' in e) return e.data;
        if ('oid' in e) return blobs!.read(e.oid);
        if (e.type === 'dir') return Buffer.alloc(0);
        return readFile(e.disk);
      };
      const names = [...ctx.dirs, ...ctx.files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const dirs = new Set(ctx.dirs);
      for (const name of names) {
        if (dirs.has(name)) {
          await add({ name, type: 'directory', mode: 0o755 });
          continue;
        }
        const e = ctx.entries.get(name)!;
        if (e.type === 'symlink') {
          const linkname = 'target' in e ? e.target : (await bytes(e)).toString('utf8');
          await add({ name, type: 'symlink', mode: 0o777, linkname });
        } else if (e.type === 'file') {
          const body = await bytes(e);
          await add({ name, type: 'file', mode: e.executable ? 0o755 : 0o644, size: body.length }, body);
        }
      }
      if (ctx.outsideDockerfile !== undefined) {
        await add({ name: ctx.dockerfileName, type: 'file', mode: 0o644, size: ctx.outsideDockerfile.length }, ctx.outsideDockerfile);
      }
      pack.finalize();
    } finally {
      blobs?.close();
    }
  };
  produce().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return pack as unknown as Readable;
}
