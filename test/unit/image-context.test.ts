/**
 * The build context is cut from git: the commit's tree by default, what `git add -A` would commit with
 * --allow-dirty, plus build.include; .dockerignore applied; the secrets file never in it. Temp git repos, no engine.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { looksLikeSecret, packContext, selectContext, type ContextOptions, type ContextSource } from '../../src/image/context.js';
import { InputError } from '../../src/util/errors.js';
import { git, gitEnv } from '../helpers/git-repo.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function write(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), body);
  }
}

/** A git repo with `files` committed (a fixed commit time), realpath'd as git prints its root. */
function repo(files: Record<string, string | Buffer>, setup?: (d: string) => void): { root: string; sha: string } {
  const d = realpathSync(mkdtempSync(path.join(tmpdir(), 'boxship-ctx-')));
  dirs.push(d);
  git(d, 'init', '-q', '-b', 'main');
  write(d, files);
  setup?.(d);
  git(d, 'add', '-A');
  execFileSync('git', ['commit', '-q', '-m', 'init'], { cwd: d, env: { ...gitEnv(), GIT_COMMITTER_DATE: '2021-02-03T04:05:06Z' } });
  return { root: d, sha: git(d, 'rev-parse', 'HEAD').trim() };
}

function select(r: { root: string; sha: string }, source: ContextSource = 'commit', more: Partial<ContextOptions> = {}) {
  return selectContext({ root: r.root, sha: r.sha, source, contextDir: r.root, dockerfilePath: path.join(r.root, 'Dockerfile'), ...more });
}

interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname?: string;
  body: Buffer;
}

async function untar(stream: Readable): Promise<Entry[]> {
  const extract = tarStream.extract();
  const entries: Entry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        entries.push({
          name: header.name.replace(/\/$/, ''),
          type: header.type ?? 'file',
          mode: header.mode ?? -1,
          uid: header.uid ?? -1,
          gid: header.gid ?? -1,
          mtime: header.mtime?.getTime() ?? -1,
          ...(header.linkname ? { linkname: header.linkname } : {}),
          body: Buffer.concat(chunks),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract);
  await done;
  return entries;
}

describe('selectContext from the commit', () => {
  it('sends the commit: contents from git, never untracked or ignored files, .dockerignore from the commit', async () => {
    const r = repo({
      Dockerfile: 'FROM scratch\n',
      '.gitignore': '.env.secrets\nscratch.txt\n',
      '.dockerignore': 'notes.md\n',
      'app.js': 'committed\n',
      'notes.md': 'n',
    });
    // The work tree now differs from the commit in every way that must not matter.
    write(r.root, {
      'app.js': 'edited, not committed\n',
      '.env.secrets': 'TOKEN=s3cr3t\n',
      'scratch.txt': 'scratch',
      'untracked.js': 'u',
      '.dockerignore': '',
    });
    unlinkSync(path.join(r.root, 'notes.md')); // deleted in the work tree, still in the commit, still ignored by its .dockerignore
    const ctx = await select(r);
    expect(ctx.source).toBe('commit');
    expect(ctx.files).toEqual(['.dockerignore', '.gitignore', 'Dockerfile', 'app.js']);
    expect(ctx.readFile('app.js').toString()).toBe('committed\n');
    expect(ctx.readFile('.dockerignore').toString()).toBe('notes.md\n');
    const entries = await untar(packContext(ctx));
    expect(entries.map((e) => e.name)).toEqual(['.dockerignore', '.gitignore', 'Dockerfile', 'app.js']);
    expect(entries.find((e) => e.name === 'app.js')!.body.toString()).toBe('committed\n');
  });

  it('applies .dockerignore like Docker: root-anchored patterns, **, and exceptions under ignored folders', async () => {
    const r = repo({
      Dockerfile: 'FROM scratch',
      '.dockerignore': [
        '# comment',
        'node_modules',
        '*.log',
        '**/*.tmp',
        'secrets/',
        'docs',
        '!docs/keep.md',
        'Dockerfile',
        '.dockerignore',
        'logs/*.log',
      ].join('\n'),
      'app.js': '',
      'debug.log': '',
      'sub/debug.log': '', // `*.log` matches only at the root, as in Docker
      'sub/x.tmp': '',
      'node_modules/a/index.js': '',
      'secrets/key': '',
      'docs/a.md': '',
      'docs/keep.md': '',
      'src/main.js': '',
      'logs/a.log': '', // the folder is not ignored, only what is in it: it is sent empty, as Docker does
    });
    const ctx = await select(r);
    expect(ctx.files).toEqual(['.dockerignore', 'Dockerfile', 'app.js', 'docs/keep.md', 'src/main.js', 'sub/debug.log']);
    expect(ctx.dirs).toEqual(['docs', 'logs', 'src', 'sub']);
    expect(ctx.dockerfileName).toBe('Dockerfile');
    expect(ctx.outsideDockerfile).toBeUndefined();
  });

  it('keeps exec bits and symlinks from the commit, owned by root, with the commit time as mtime', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', 'bin/run.sh': '#!/bin/sh\necho hi\n', 'a/b/c.txt': 'c' }, (d) => {
      chmodSync(path.join(d, 'bin/run.sh'), 0o755);
      symlinkSync('a/b/c.txt', path.join(d, 'link'));
    });
    // Changing the work tree's mode does not change what is sent.
    chmodSync(path.join(r.root, 'bin/run.sh'), 0o644);
    const ctx = await select(r);
    expect(ctx.files).toEqual(['Dockerfile', 'a/b/c.txt', 'bin/run.sh', 'link']);
    expect(ctx.dirs).toEqual(['a', 'a/b', 'bin']);
    expect(ctx.readFile('link').toString()).toBe('c'); // followed inside the context, for the pinning checks
    const entries = await untar(packContext(ctx));
    const by = new Map(entries.map((e) => [e.name, e]));
    expect([...by.keys()].sort()).toEqual(['Dockerfile', 'a', 'a/b', 'a/b/c.txt', 'bin', 'bin/run.sh', 'link']);
    expect(by.get('bin/run.sh')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(by.get('Dockerfile')).toMatchObject({ type: 'file', mode: 0o644 });
    expect(by.get('a')).toMatchObject({ type: 'directory', mode: 0o755 });
    expect(by.get('link')).toMatchObject({ type: 'symlink', linkname: 'a/b/c.txt' });
    expect(entries.every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
    expect(entries.every((e) => e.mtime === Date.parse('2021-02-03T04:05:06Z'))).toBe(true);
    // Parents come before their children, as in a tar the engine can unpack in one pass.
    expect(entries.map((e) => e.name).indexOf('a')).toBeLessThan(entries.map((e) => e.name).indexOf('a/b/c.txt'));
  });

  it('cuts a subfolder of the repository as the context, with paths relative to it', async () => {
    const r = repo({
      'svc/Dockerfile': 'FROM scratch\n',
      'svc/src/app.js': 'x',
      'svc/.dockerignore': 'src/skip.js\n',
      'svc/src/skip.js': '',
      'other/file.txt': 'no',
      'README.md': 'no',
    });
    const ctx = await select(r, 'commit', { contextDir: path.join(r.root, 'svc'), dockerfilePath: path.join(r.root, 'svc/Dockerfile') });
    expect(ctx.files).toEqual(['.dockerignore', 'Dockerfile', 'src/app.js']);
    expect(ctx.dir).toBe(path.join(r.root, 'svc'));
  });

  it('takes a Dockerfile outside the context from the commit and adds it under a name that does not collide', async () => {
    const r = repo({ 'ctx/app.js': 'x', 'ctx/.boxship.Dockerfile': 'mine', 'other/Dockerfile.prod': 'FROM scratch\n' });
    write(r.root, { 'other/Dockerfile.prod': 'FROM scratch\n# edited\n' });
    const ctx = await select(r, 'commit', { contextDir: path.join(r.root, 'ctx'), dockerfilePath: path.join(r.root, 'other/Dockerfile.prod') });
    expect(ctx.dockerfileName).toBe('_.boxship.Dockerfile');
    expect(ctx.dockerfile.toString()).toBe('FROM scratch\n');
    const entries = await untar(packContext(ctx));
    expect(entries.find((e) => e.name === '_.boxship.Dockerfile')!.body.toString()).toBe('FROM scratch\n');
    expect(entries.find((e) => e.name === '.boxship.Dockerfile')!.body.toString()).toBe('mine');
  });

  it('refuses a missing context, a context outside the repository and a Dockerfile the commit lacks', async () => {
    const r = repo({ 'x.txt': '' });
    await expect(select(r, 'commit', { contextDir: path.join(r.root, 'nope') })).rejects.toBeInstanceOf(InputError);
    await expect(select(r, 'commit', { contextDir: tmpdir() })).rejects.toThrow(/is outside the git repository/);
    write(r.root, { Dockerfile: 'FROM scratch\n' }); // on disk, not committed
    const err = (await select(r).catch((e: unknown) => e)) as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/Dockerfile .* is not in commit [0-9a-f]{12}/);
    expect(err.hint).toMatch(/commit it/);
  });

  it('streams many files and a large one through one git cat-file intact', async () => {
    const big = randomBytes(20 * 1024 * 1024 + 17);
    const small: Record<string, string> = {};
    for (let i = 0; i < 300; i++) small[`many/f${String(i).padStart(3, '0')}.txt`] = `file ${i}\n`.repeat(i % 7);
    const r = repo({ Dockerfile: 'FROM scratch\n', 'big.bin': big, ...small });
    const entries = await untar(packContext(await select(r)));
    const by = new Map(entries.map((e) => [e.name, e]));
    expect(createHash('sha256').update(by.get('big.bin')!.body).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    for (const [name, body] of Object.entries(small)) expect(by.get(name)!.body.toString()).toBe(body);
  }, 30_000); // 20 MiB through git and tar: seconds on a loaded 2-core machine, and the point is integrity, not speed
});

describe('selectContext with --allow-dirty (the work tree)', () => {
  it('sends tracked changes and untracked files that git does not ignore, never ignored or deleted ones', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', '.gitignore': 'scratch.txt\nbuild/\n', 'app.js': 'v1\n', 'gone.js': 'x' });
    write(r.root, { 'app.js': 'v2\n', 'new.js': 'new\n', 'scratch.txt': 's', 'build/out.js': 'o' });
    unlinkSync(path.join(r.root, 'gone.js'));
    symlinkSync('app.js', path.join(r.root, 'alias.js'));
    const ctx = await select(r, 'worktree');
    expect(ctx.files).toEqual(['.gitignore', 'Dockerfile', 'alias.js', 'app.js', 'new.js']);
    expect(ctx.readFile('app.js').toString()).toBe('v2\n');
    const entries = await untar(packContext(ctx));
    const by = new Map(entries.map((e) => [e.name, e]));
    expect(by.get('new.js')!.body.toString()).toBe('new\n');
    expect(by.get('alias.js')).toMatchObject({ type: 'symlink', linkname: 'app.js' });
  });
});

describe('the secrets file and build.include', () => {
  it('never sends app.secrets_file, even untracked and not ignored with --allow-dirty', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', 'app.js': '' });
    write(r.root, { '.env.secrets': 'TOKEN=s3cr3t\n' }); // neither tracked nor ignored
    const secretsFile = path.join(r.root, '.env.secrets');
    const dirty = await select(r, 'worktree', { secretsFile });
    expect(dirty.files).toEqual(['Dockerfile', 'app.js']);
    // Without the secrets file configured, the same file would be sent, and flagged.
    const unconfigured = await select(r, 'worktree');
    expect(unconfigured.files).toContain('.env.secrets');
    expect(unconfigured.suspicious).toEqual(['.env.secrets']);
  });

  it('refuses a secrets file that git tracks, naming it and saying to git rm --cached it', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', 'config/.env.secrets': 'TOKEN=s3cr3t\n' });
    const err = (await select(r, 'commit', { secretsFile: path.join(r.root, 'config/.env.secrets') }).catch((e: unknown) => e)) as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(path.join(r.root, 'config/.env.secrets'));
    expect(err.message).toContain('is tracked by git');
    expect(err.hint).toContain('git rm --cached config/.env.secrets');
    // Staged only (not yet committed) is tracked too.
    const r2 = repo({ Dockerfile: 'FROM scratch\n' });
    write(r2.root, { '.env.secrets': 'A=1\n' });
    git(r2.root, 'add', '.env.secrets');
    await expect(select(r2, 'worktree', { secretsFile: path.join(r2.root, '.env.secrets') })).rejects.toThrow(/is tracked by git/);
  });

  it("treats the accessories' secrets files the same: never sent, refused when tracked", async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', 'app.js': '' });
    write(r.root, { 'db.secrets': 'POSTGRES_PASSWORD=s3cr3t\n' });
    const otherSecrets = [{ path: path.join(r.root, 'db.secrets'), key: 'accessories.db.secrets_file' }];
    expect((await select(r, 'worktree', { otherSecrets })).files).toEqual(['Dockerfile', 'app.js']);
    git(r.root, 'add', 'db.secrets');
    const err = (await select(r, 'worktree', { otherSecrets }).catch((e: unknown) => e)) as InputError;
    expect(err.message).toBe(
      `the secrets file ${path.join(r.root, 'db.secrets')} (accessories.db.secrets_file) is tracked by git, so it would be part of the image and of every clone`,
    );
    expect(err.hint).toContain('git rm --cached db.secrets');
  });

  it('adds build.include files from outside git with their sha256, even under ignored folders', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', '.gitignore': 'extra-ca.crt\ncerts/\n', '.dockerignore': 'certs\n' });
    write(r.root, { 'extra-ca.crt': 'CA BUNDLE\n', 'certs/inner.pem': 'PEM', 'certs/other.pem': 'not named' });
    const ctx = await select(r, 'commit', { include: ['extra-ca.crt', 'certs/inner.pem'] });
    expect(ctx.files).toEqual(['.dockerignore', '.gitignore', 'Dockerfile', 'certs/inner.pem', 'extra-ca.crt']);
    expect(ctx.included).toEqual([
      { path: 'extra-ca.crt', sha256: createHash('sha256').update('CA BUNDLE\n').digest('hex') },
      { path: 'certs/inner.pem', sha256: createHash('sha256').update('PEM').digest('hex') },
    ]);
    expect(ctx.suspicious).toEqual([]); // a .pem named in build.include is there on purpose
    const entries = await untar(packContext(ctx));
    expect(entries.find((e) => e.name === 'extra-ca.crt')!.body.toString()).toBe('CA BUNDLE\n');
    expect(entries.map((e) => e.name)).not.toContain('certs/other.pem');
  });

  it('refuses build.include naming the secrets file, a tracked file, or a missing file', async () => {
    const r = repo({ Dockerfile: 'FROM scratch\n', '.gitignore': '.env.secrets\n', 'app.js': '' });
    write(r.root, { '.env.secrets': 'TOKEN=s3cr3t\n' });
    const secretsFile = path.join(r.root, '.env.secrets');
    await expect(select(r, 'commit', { secretsFile, include: ['.env.secrets'] })).rejects.toThrow(/build\.include names \.env\.secrets, the secrets file/);
    await expect(select(r, 'commit', { include: ['app.js'] })).rejects.toThrow(/which git tracks/);
    await expect(select(r, 'commit', { include: ['nope.crt'] })).rejects.toBeInstanceOf(InputError);
  });

  it('flags sent files whose names look like secrets', async () => {
    const r = repo({
      Dockerfile: 'FROM scratch\n',
      '.env.local': '',
      'tls/server.pem': '',
      'keys/id_ed25519': '',
      'keys/id_ed25519.pub': '',
      'tls/server.key': '',
      'src/id_utils.js': '',
      'app.js': '',
    });
    expect((await select(r)).suspicious).toEqual(['.env.local', 'keys/id_ed25519', 'tls/server.key', 'tls/server.pem']);
  });
});

describe('looksLikeSecret', () => {
  it('matches .env*, *.pem, *.key and id_* private keys by name only', () => {
    for (const yes of ['.env', '.env.production', 'a/.env.secrets', 'cert.pem', 'x/tls.key', 'id_rsa', 'home/.ssh/id_ed25519'])
      expect(looksLikeSecret(yes), yes).toBe(true);
    for (const no of ['env.js', 'id_rsa.pub', 'id_helpers.ts', 'keyboard.js', 'pem.txt', 'src/environment.ts']) expect(looksLikeSecret(no), no).toBe(false);
  });
});
