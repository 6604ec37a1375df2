/**
 * boxship as a user gets it: `npm pack`, installed into another project (dependencies from the npm registry), run
 * with `npx boxship` from compiled JS only: the package carries no src/ and no tsx.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/paths.js';

const run = promisify(execFile);

/**
 * `npm pack` deletes and rebuilds dist/ (prepack, prepare). In this checkout that would pull the compiled CLI from
 * under the suites running beside this one (scripts/test-lanes.ts), so the package is made from a copy of the sources
 * that shares only node_modules.
 */
function checkoutCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'boxship-src-'));
  const skip = new Set(['node_modules', 'dist', '.git', '.boxship-test']);
  for (const entry of readdirSync(REPO)) {
    if (!skip.has(entry)) cpSync(join(REPO, entry), join(copy, entry), { recursive: true, filter: (src) => !src.includes('/node_modules') });
  }
  symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

describe('the npm package', () => {
  let project: string;
  let tarball: string;

  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'boxship-pack-'));
    await run('npm', ['pack', '--pack-destination', out], { cwd: checkoutCopy(), maxBuffer: 16 * 1024 * 1024 });
    tarball = join(out, readdirSync(out).find((f) => f.endsWith('.tgz'))!);
    project = mkdtempSync(join(tmpdir(), 'boxship-user-'));
    cpSync(join(REPO, 'examples', 'hello'), project, { recursive: true });
    await run('git', ['init', '-q'], { cwd: project });
    await run('npm', ['i', '-D', '--no-audit', '--no-fund', tarball], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  });

  it('carries the compiled CLI, the schema and the proxy Dockerfiles, and neither src/ nor tsx', () => {
    const pkg = join(project, 'node_modules', 'boxship');
    expect(existsSync(join(pkg, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(pkg, 'schema', 'boxship.schema.json'))).toBe(true);
    expect(existsSync(join(pkg, 'dockerfiles', 'proxy', 'Dockerfile'))).toBe(true);
    expect(existsSync(join(pkg, 'dockerfiles', 'proxy-caddy-2.11', 'Dockerfile'))).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
    expect(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).dependencies).not.toHaveProperty('tsx');
  });

  it('finds its own proxy Dockerfiles from the compiled code of the installed package', async () => {
    const pkg = join(project, 'node_modules', 'boxship');
    const script = `import('${join(pkg, 'dist', 'src', 'image', 'packaged.js')}').then((m) => console.log(m.packagedDockerfile(process.argv[1]).path))`;
    for (const [tag, folder] of [
      ['caddy-2.6.2', 'proxy'],
      ['caddy-2.11.4', 'proxy-caddy-2.11'],
    ] as const) {
      const { stdout } = await run('node', ['-e', script, `boxship-proxy:${tag}`], { cwd: project });
      expect(stdout.trim()).toBe(join(realpathSync(pkg), 'dockerfiles', folder, 'Dockerfile'));
    }
  });

  it('npx boxship --help and npx boxship init work in the project', async () => {
    const help = await run('npx', ['boxship', '--help'], { cwd: project });
    expect(help.stdout).toContain('Usage: boxship');
    expect(help.stdout).toMatch(/^ {2}deploy /m);
    const init = await run('npx', ['boxship', 'init'], { cwd: project });
    expect(init.stdout).toContain('Wrote boxship.yml');
    const yml = readFileSync(join(project, 'boxship.yml'), 'utf8');
    // The schema line points at a file that is really there.
    expect(yml.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/boxship/schema/boxship.schema.json');
    expect(existsSync(join(project, 'node_modules', 'boxship', 'schema', 'boxship.schema.json'))).toBe(true);
  });
});
