import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { packContext, selectContext } from '../../src/build/context.js';
import { InputError } from '../../src/util/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'boxship-ctx-'));
  dirs.push(d);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), body);
  }
  return d;
}

interface Entry {
  name: string;
  type: string;
  uid: number;
  gid: number;
  body: string;
}

async function untar(stream: Readable): Promise<Entry[]> {
  const extract = tarStream.extract();
  const entries: Entry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        entries.push({ name: header.name, type: header.type ?? 'file', uid: header.uid ?? -1, gid: header.gid ?? -1, body: Buffer.concat(chunks).toString() });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return entries;
}

describe('selectContext', () => {
  it('applies .dockerignore like Docker: root-anchored patterns, **, and exceptions under ignored folders', async () => {
    const d = tree({
      Dockerfile: 'FROM scratch',
      '.dockerignore': ['# comment', 'node_modules', '*.log', '**/*.tmp', 'secrets/', 'docs', '!docs/keep.md', 'Dockerfile', '.dockerignore'].join('\n'),
      'app.js': '',
      'debug.log': '',
      'sub/debug.log': '', // `*.log` matches only at the root, as in Docker
      'sub/x.tmp': '',
      'node_modules/a/index.js': '',
      'secrets/key': '',
      'docs/a.md': '',
      'docs/keep.md': '',
      'src/main.js': '',
    });
    const ctx = await selectContext(d, path.join(d, 'Dockerfile'));
    expect(ctx.files).toEqual(['.dockerignore', 'Dockerfile', 'app.js', 'docs/keep.md', 'src/main.js', 'sub/debug.log']);
    expect(ctx.dirs).toEqual(['docs', 'src', 'sub']);
    expect(ctx.dockerfileName).toBe('Dockerfile');
    expect(ctx.outsideDockerfile).toBeUndefined();
  });

  it('includes everything without a .dockerignore, keeps empty folders and symlinks', async () => {
    const d = tree({ 'build/Dockerfile': 'FROM scratch', 'a/b/c.txt': 'c' });
    mkdirSync(path.join(d, 'empty'));
    symlinkSync('a/b/c.txt', path.join(d, 'link'));
    const ctx = await selectContext(d, path.join(d, 'build/Dockerfile'));
    expect(ctx.files).toEqual(['a/b/c.txt', 'build/Dockerfile', 'link']);
    expect(ctx.dirs).toEqual(['a', 'a/b', 'build', 'empty']);
    expect(ctx.dockerfileName).toBe('build/Dockerfile');
  });

  it('refuses a missing context or Dockerfile as input errors', async () => {
    const d = tree({ 'x.txt': '' });
    await expect(selectContext(path.join(d, 'nope'), path.join(d, 'Dockerfile'))).rejects.toBeInstanceOf(InputError);
    await expect(selectContext(d, path.join(d, 'Dockerfile'))).rejects.toThrow(/Dockerfile .* does not exist/);
  });
});

describe('packContext', () => {
  it('tars exactly the selected files, owned by root', async () => {
    const d = tree({ Dockerfile: 'FROM scratch\n', '.dockerignore': 'ignored/\n*.secret', 'keep/a.txt': 'A', 'ignored/b.txt': 'B', 'x.secret': 's' });
    const ctx = await selectContext(d, path.join(d, 'Dockerfile'));
    const entries = await untar(packContext(ctx));
    const names = entries.map((e) => e.name).filter((n) => n !== '.' && n !== './');
    expect(names.sort()).toEqual(['.dockerignore', 'Dockerfile', 'keep', 'keep/a.txt']);
    expect(entries.every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
    expect(entries.find((e) => e.name === 'keep/a.txt')!.body).toBe('A');
  });

  it('adds a Dockerfile from outside the context under a name that does not collide', async () => {
    const d = tree({ 'ctx/app.js': 'x', 'ctx/.boxship.Dockerfile': 'mine', 'other/Dockerfile.prod': 'FROM scratch\n' });
    const ctx = await selectContext(path.join(d, 'ctx'), path.join(d, 'other/Dockerfile.prod'));
    expect(ctx.dockerfileName).toBe('_.boxship.Dockerfile');
    const entries = await untar(packContext(ctx));
    expect(entries.find((e) => e.name === '_.boxship.Dockerfile')!.body).toBe('FROM scratch\n');
    expect(entries.find((e) => e.name === '.boxship.Dockerfile')!.body).toBe('mine');
  });
});
