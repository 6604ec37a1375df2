/**
 * The image is the commit (issue 7): `boxship release` of an app whose Dockerfile ends in `COPY . .`, with a
 * git-ignored secrets file and a git-ignored scratch file next to it, against the simulated hosts. What is checked
 * is the image as it landed on each host, listed inside that host's engine.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localImageId } from '../helpers/example.js';
import { HOSTS, TEST_KEY, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, onHost, type RunResult } from '../helpers/run.js';

const SERVICE = `ctx-${randomBytes(3).toString('hex')}`;
/** Recognisable, so that any output carrying it is caught. */
const SECRET = `s3cr3t-${randomBytes(8).toString('hex')}`;
const BASE = 'node:20-bookworm-slim';

let dir: string;

function git(...args: string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[k];
  return execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' }).trim();
}

function write(files: Record<string, string>): void {
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
}

function config(extraBuild: string[] = []): string {
  return [
    `service: ${SERVICE}`,
    'build:',
    '  context: .',
    ...extraBuild,
    '  pins:',
    `    ${BASE}: ${localImageId(BASE)}`,
    'ssh:',
    `  identity_file: ${TEST_KEY}`,
    `  known_hosts: ${TEST_KNOWN_HOSTS}`,
    'hosts:',
    ...HOSTS.map((h) => `  - ${h.address}`),
    'app:',
    '  port: 3000',
    '  secrets_file: .env.secrets',
    '',
  ].join('\n');
}

function commit(message: string): string {
  git('add', '-A');
  git('commit', '-q', '--allow-empty', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** `boxship release`, checked for the secret in everything it printed. */
async function release(...args: string[]): Promise<RunResult & { tag?: string }> {
  const r = await boxship(['release', ...args], { cwd: dir });
  expect(`${r.stdout}\n${r.stderr}`).not.toContain(SECRET);
  const tag = /Released (\S+) to /.exec(r.stdout)?.[1];
  return { ...r, ...(tag !== undefined ? { tag } : {}) };
}

/** Runs a command in the image on a host, from the host's own engine (never pulling). */
const inImage = (container: string, image: string, cmd: string) => onHost(container, `docker run --rm --pull never --entrypoint sh ${image} -c '${cmd}'`);
const lsApp = async (container: string, image: string) =>
  (await onHost(container, `docker run --rm --pull never --entrypoint ls ${image} -A /app`)).trim().split('\n').sort();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'boxship-ctx-it-'));
  git('init', '-q', '-b', 'main');
  write({
    // The held-out pattern from the issue: the whole folder copied in, .dockerignore listing only the usual things.
    Dockerfile: [`FROM ${BASE}`, 'WORKDIR /app', 'COPY . .', 'CMD ["node", "server.js"]', ''].join('\n'),
    '.dockerignore': '.git\nnode_modules\nDockerfile\n',
    '.gitignore': '.env.secrets\nscratch.log\nextra.txt\n',
    'server.js': "require('node:http').createServer((q, s) => s.end('ok')).listen(3000);\n",
    'tls.key': 'committed on purpose, for the warning\n',
    'boxship.yml': config(),
  });
  commit('app');
  // Git-ignored, so the tree stays clean: exactly the files that used to slip into the image.
  write({ '.env.secrets': `API_TOKEN=${SECRET}\n`, 'scratch.log': 'local scratch\n' });
});

afterAll(async () => {
  for (const h of HOSTS) {
    await onHost(
      h.container,
      `docker images --format '{{.Repository}}:{{.Tag}}' | grep '^${SERVICE}:' | xargs -r docker rmi -f >/dev/null; rm -rf /root/.boxship/${SERVICE}; true`,
    ).catch(() => {});
  }
  const local = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' })
    .split('\n')
    .filter((t) => t.startsWith(`${SERVICE}:`));
  if (local.length) execFileSync('docker', ['rmi', '-f', ...local], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

describe('build context = the commit', () => {
  it('leaves a git-ignored secrets file and scratch file out of the image on every host, and prints no secret', async () => {
    const sha = git('rev-parse', 'HEAD');
    const r = await release();
    expect(r.code, r.stderr).toBe(0);
    expect(r.tag).toBe(`${SERVICE}:${sha}`);
    // A committed file whose name looks like a secret is shipped, with a warning naming it.
    expect(r.stderr).toMatch(/warning: the build context contains tls\.key, which looks like a secret/);
    expect(r.stderr).not.toMatch(/warning: .*\.env\.secrets/);
    for (const h of HOSTS) {
      // (The Dockerfile too, though .dockerignore lists it: the engine reads it from the tar, as Docker always sends it.)
      expect(await lsApp(h.container, r.tag!)).toEqual(['.dockerignore', '.gitignore', 'Dockerfile', 'boxship.yml', 'server.js', 'tls.key']);
      // Not under another name or place either.
      expect(await inImage(h.container, r.tag!, `grep -rl ${SECRET} /app /root /tmp 2>/dev/null; true`)).toBe('');
      const labels = JSON.parse(await onHost(h.container, `docker image inspect --format '{{json .Config.Labels}}' ${r.tag}`));
      expect(labels['dev.boxship.included']).toBe('[]');
      expect(labels['dev.boxship.dirty']).toBe('false');
    }
  });

  it('--allow-dirty sends a tracked modification and an untracked file, never the ignored ones, and tags dirty', async () => {
    const sha = git('rev-parse', 'HEAD');
    write({
      'server.js': "// dirty-marker\nrequire('node:http').createServer((q, s) => s.end('ok')).listen(3000);\n",
      'notes.txt': 'untracked, not ignored\n',
    });
    try {
      const refused = await release();
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/uncommitted changes/);
      const r = await release('--allow-dirty');
      expect(r.code, r.stderr).toBe(0);
      expect(r.tag).toMatch(new RegExp(`^${SERVICE}:${sha}-dirty-[0-9a-f]{12}$`));
      for (const h of HOSTS) {
        expect(await lsApp(h.container, r.tag!)).toEqual(['.dockerignore', '.gitignore', 'Dockerfile', 'boxship.yml', 'notes.txt', 'server.js', 'tls.key']);
        expect(await inImage(h.container, r.tag!, 'head -1 /app/server.js')).toBe('// dirty-marker\n');
        const labels = JSON.parse(await onHost(h.container, `docker image inspect --format '{{json .Config.Labels}}' ${r.tag}`));
        expect(labels['dev.boxship.dirty']).toBe('true');
      }
    } finally {
      git('checkout', 'HEAD', '--', 'server.js');
      rmSync(join(dir, 'notes.txt'));
    }
  });

  it('build.include brings in a named git-ignored file, hashed into a label and listed in the output', async () => {
    const body = `generated ${randomBytes(4).toString('hex')}\n`;
    write({ 'extra.txt': body, 'boxship.yml': config(['  include: [extra.txt]']) });
    const sha = commit('include extra.txt');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const r = await release();
    expect(r.code, r.stderr).toBe(0);
    expect(r.tag).toBe(`${SERVICE}:${sha}`); // still the commit: the included file is on the record, not in git
    expect(r.stdout).toContain(`included from outside git (build.include): extra.txt sha256:${sha256}`);
    for (const h of HOSTS) {
      expect(await inImage(h.container, r.tag!, 'cat /app/extra.txt')).toBe(body);
      expect(await lsApp(h.container, r.tag!)).not.toContain('.env.secrets');
      expect(await lsApp(h.container, r.tag!)).not.toContain('scratch.log');
      const labels = JSON.parse(await onHost(h.container, `docker image inspect --format '{{json .Config.Labels}}' ${r.tag}`));
      expect(JSON.parse(labels['dev.boxship.included'])).toEqual([{ path: 'extra.txt', sha256 }]);
    }
  });

  it('refuses the secrets file in build.include: exit 2, naming it, nothing built or shipped', async () => {
    write({ 'boxship.yml': config(['  include: [extra.txt, .env.secrets]']) });
    const sha = commit('include the secrets file');
    const r = await release();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.env.secrets');
    expect(r.stderr).toMatch(/secrets file/);
    expect(r.stdout).not.toContain('Released');
    expect(() => execFileSync('docker', ['image', 'inspect', `${SERVICE}:${sha}`], { stdio: 'ignore' })).toThrow();
    for (const h of HOSTS) {
      expect((await onHost(h.container, `docker image inspect ${SERVICE}:${sha} >/dev/null 2>&1 && echo present || echo absent`)).trim()).toBe('absent');
    }
  });
});
