import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitRevision, parsePorcelain } from '../../src/image/git.js';
import { InputError } from '../../src/util/errors.js';
import { git, gitEnv } from '../helpers/git-repo.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'boxship-git-'));
  dirs.push(d);
  return d;
}

function repo(files: Record<string, string> = { 'a.txt': 'one\n' }): string {
  const d = tempDir();
  git(d, 'init', '-q', '-b', 'main');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), body);
  }
  git(d, 'add', '-A');
  git(d, 'commit', '-q', '-m', 'init');
  return d;
}

describe('gitRevision', () => {
  it('returns the full HEAD sha as the tag of a clean tree, also from a subfolder', async () => {
    const d = repo({ 'a.txt': 'one\n', 'sub/b.txt': 'two\n' });
    const sha = git(d, 'rev-parse', 'HEAD').trim();
    expect(await gitRevision(d)).toEqual({ root: realpathSync(d), sha, dirty: false, tag: sha, changed: [] });
    expect((await gitRevision(path.join(d, 'sub'))).root).toBe(realpathSync(d));
    expect((await gitRevision(path.join(d, 'sub'))).tag).toBe(sha);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
  });

  it('ignores ignored files', async () => {
    const d = repo({ '.gitignore': 'dist/\n', 'a.txt': 'x' });
    mkdirSync(path.join(d, 'dist'));
    writeFileSync(path.join(d, 'dist', 'out.js'), 'built');
    expect((await gitRevision(d)).dirty).toBe(false);
  });

  it('refuses a dirty tree without allowDirty, listing the changed paths', async () => {
    const d = repo();
    writeFileSync(path.join(d, 'a.txt'), 'changed\n');
    writeFileSync(path.join(d, 'new.txt'), 'new\n');
    const err = await gitRevision(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as InputError).message).toContain('has uncommitted changes:\n  a.txt\n  new.txt');
    expect((err as InputError).hint).toBe('commit or stash, or pass --allow-dirty');
  });

  it('lists at most 10 changed paths', async () => {
    const d = repo();
    for (let i = 0; i < 13; i++) writeFileSync(path.join(d, `f${String(i).padStart(2, '0')}.txt`), `${i}`);
    const err = (await gitRevision(d).catch((e: unknown) => e)) as InputError;
    expect(err.message).toContain('  f09.txt\n  ... and 3 more');
    expect(err.message).not.toContain('f10.txt');
  });

  it('tags a dirty tree sha-dirty-<12 hex> that depends on the changes, including untracked files', async () => {
    const d = repo();
    const sha = git(d, 'rev-parse', 'HEAD').trim();
    writeFileSync(path.join(d, 'a.txt'), 'changed\n');
    const r1 = await gitRevision(d, { allowDirty: true });
    expect(r1.dirty).toBe(true);
    expect(r1.tag).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(r1.changed).toEqual(['a.txt']);
    // Same state, same tag.
    expect((await gitRevision(d, { allowDirty: true })).tag).toBe(r1.tag);
    // Staging does not change what is built, so it does not change the tag (diff is against HEAD).
    git(d, 'add', 'a.txt');
    expect((await gitRevision(d, { allowDirty: true })).tag).toBe(r1.tag);
    // An untracked file changes it, and so does its content.
    writeFileSync(path.join(d, 'u.txt'), 'u1');
    const r2 = await gitRevision(d, { allowDirty: true });
    expect(r2.tag).not.toBe(r1.tag);
    writeFileSync(path.join(d, 'u.txt'), 'u2');
    const r3 = await gitRevision(d, { allowDirty: true });
    expect(r3.tag).not.toBe(r2.tag);
    // ...and its name.
    rmSync(path.join(d, 'u.txt'));
    writeFileSync(path.join(d, 'v.txt'), 'u2');
    expect((await gitRevision(d, { allowDirty: true })).tag).not.toBe(r3.tag);
    // Reverting everything makes the tree clean again.
    rmSync(path.join(d, 'v.txt'));
    git(d, 'checkout', 'HEAD', '--', 'a.txt');
    expect((await gitRevision(d, { allowDirty: true })).tag).toBe(sha);
  });

  it('computes the documented hash: sha256 over git diff HEAD --binary, then each untracked path and contents', async () => {
    const d = repo();
    const sha = git(d, 'rev-parse', 'HEAD').trim();
    writeFileSync(path.join(d, 'a.txt'), Buffer.from([0, 1, 2, 255])); // binary change
    writeFileSync(path.join(d, 'z.txt'), 'zz');
    writeFileSync(path.join(d, 'b.txt'), 'bb');
    symlinkSync('a.txt', path.join(d, 'link'));
    const { createHash } = await import('node:crypto');
    const diff = execFileSync(
      'git',
      ['diff', 'HEAD', '--binary', '--full-index', '--no-color', '--no-ext-diff', '--no-textconv', '--no-renames', '--src-prefix=a/', '--dst-prefix=b/'],
      { cwd: d, env: gitEnv() },
    );
    const h = createHash('sha256').update(diff);
    for (const [name, body] of [
      ['b.txt', 'bb'],
      ['link', 'a.txt'],
      ['z.txt', 'zz'],
    ] as const) {
      h.update(`\0${name}\0${Buffer.byteLength(body)}\0`);
      h.update(body);
    }
    expect((await gitRevision(d, { allowDirty: true })).tag).toBe(`${sha}-dirty-${h.digest('hex').slice(0, 12)}`);
  });

  it('refuses a folder that is not a git repository, and a repository without commits', async () => {
    const plain = tempDir();
    await expect(gitRevision(plain)).rejects.toThrow(/is not inside a git repository/);
    await expect(gitRevision(plain)).rejects.toBeInstanceOf(InputError);
    const empty = tempDir();
    git(empty, 'init', '-q');
    const err = (await gitRevision(empty).catch((e: unknown) => e)) as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/has no commits yet/);
    expect(err.hint).toMatch(/commit/);
    await expect(gitRevision(path.join(plain, 'missing'))).rejects.toBeInstanceOf(InputError);
  });
});

describe('parsePorcelain', () => {
  it('reads -z entries, skipping the original path of renames', () => {
    expect(parsePorcelain(Buffer.from('R  new name.txt\0old.txt\0 M a.txt\0?? dir/u.txt\0'))).toEqual(['new name.txt', 'a.txt', 'dir/u.txt']);
  });
});
