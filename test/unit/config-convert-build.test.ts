import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { At } from '../../src/config/convert/common.js';
import { buildPaths, includedFiles } from '../../src/config/convert/build.js';

const dir = mkdtempSync(path.join(tmpdir(), 'boxship-convert-build-'));
const context = path.join(dir, 'app');
mkdirSync(path.join(context, 'certs'), { recursive: true });
writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\n');
writeFileSync(path.join(context, 'certs', 'ca.pem'), 'ca\n');
writeFileSync(path.join(context, '.env'), 'A=1\n');
writeFileSync(path.join(context, 'db.env'), 'B=2\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recorder = () => {
  const problems: string[] = [];
  const at: At = (p, message) => void problems.push(`${p.join('.')}: ${message}`);
  return { problems, at };
};

describe('buildPaths', () => {
  it('resolves the context against the folder of boxship.yml and the Dockerfile against the context', () => {
    const { problems, at } = recorder();
    expect(buildPaths({ context: 'app', dockerfile: 'Dockerfile', args: {}, include: [], pins: {} }, dir, at)).toEqual({
      context,
      dockerfile: path.join(context, 'Dockerfile'),
    });
    expect(problems).toEqual([]);
  });

  it('keeps the Dockerfile inside the context, and wants a context folder', () => {
    const { problems, at } = recorder();
    buildPaths({ context: 'app', dockerfile: '../Dockerfile', args: {}, include: [], pins: {} }, dir, at);
    buildPaths({ context: 'nowhere', dockerfile: 'Dockerfile', args: {}, include: [], pins: {} }, dir, at);
    expect(problems).toEqual([
      `build.dockerfile: ${path.join(dir, 'Dockerfile')} is outside the build context ${context}`,
      `build.context: folder not found: ${path.join(dir, 'nowhere')}`,
    ]);
  });
});

describe('includedFiles', () => {
  it('gives context-relative paths with forward slashes', () => {
    const { problems, at } = recorder();
    expect(includedFiles(['certs/ca.pem'], context, { accessories: new Map() }, at)).toEqual(['certs/ca.pem']);
    expect(problems).toEqual([]);
  });

  it('refuses secrets files, files outside the context, folders and missing files', () => {
    const { problems, at } = recorder();
    const secrets = { app: path.join(context, '.env'), accessories: new Map([[path.join(context, 'db.env'), 'db']]) };
    expect(includedFiles(['.env', 'db.env', '../x', 'certs', 'gone.txt'], context, secrets, at)).toEqual([]);
    expect(problems).toEqual([
      'build.include.0: .env is the secrets file (app.secrets_file): it must never be part of an image',
      'build.include.1: db.env is the secrets file of accessory db: it must never be part of an image',
      `build.include.2: ../x is outside the build context ${context}`,
      `build.include.3: ${path.join(context, 'certs')} is a folder, expected a file`,
      `build.include.4: file not found: ${path.join(context, 'gone.txt')}`,
    ]);
  });
});
