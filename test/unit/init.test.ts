import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { globRegExp } from '../../src/image/image-uses.js';
import { detectApp, dockerfileFacts, healthcheckUrl, serviceName } from '../../src/init/detect.js';
import { nextCommands, renderConfig, SCHEMA_LINE } from '../../src/init/render.js';
import { ignores, writeInit } from '../../src/init/write.js';
import { InputError } from '../../src/util/errors.js';

const REPO = join(import.meta.dirname, '..', '..');

function exampleCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'boxship-init-'));
  cpSync(join(REPO, 'examples', 'hello'), dir, { recursive: true });
  writeFileSync(join(dir, 'extra-ca.crt'), 'not in git\n');
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  return dir;
}

const PIN = `sha256:${'a'.repeat(64)}`;

describe('init: what it sees', () => {
  it('reads EXPOSE, HEALTHCHECK and the final stage of a Dockerfile', () => {
    const f = dockerfileFacts(
      [
        'FROM node:20 AS deps',
        'EXPOSE 9229',
        'FROM node:20-slim AS runtime',
        'EXPOSE 8000/tcp 9000',
        'HEALTHCHECK --interval=5s CMD curl -fsS http://localhost:8000/healthz || exit 1',
        'CMD ["node","a.js"]',
      ].join('\n'),
    );
    expect(f).toMatchObject({ exposePort: 8000, healthcheck: { path: '/healthz', port: 8000 }, finalStage: 'runtime', stages: 2 });
  });

  it('parses health check URLs and service names', () => {
    expect(healthcheckUrl('CMD wget -qO- http://127.0.0.1/up')).toEqual({ path: '/up' });
    expect(healthcheckUrl('NONE')).toBeUndefined();
    expect(healthcheckUrl('CMD pg_isready')).toBeUndefined();
    expect(serviceName('@acme/My_Web App')).toBe('my-web-app');
    expect(serviceName('---')).toBe('app');
    expect(globRegExp('extra-ca.cr[t]').test('extra-ca.crt')).toBe(true);
    expect(globRegExp('*.json').test('a/b.json')).toBe(false);
  });

  it('sees the example app: port, stage, lockfile, git, a git-ignored file the Dockerfile copies', () => {
    const facts = detectApp(exampleCopy());
    expect(facts).toMatchObject({
      service: 'hello',
      dockerfile: 'Dockerfile',
      exposePort: 3000,
      finalStage: 'runtime',
      git: true,
      lockfile: 'package-lock.json',
      include: ['extra-ca.crt'],
      secretsFile: '.env.secrets',
      secretsExists: false,
    });
  });
});

describe('init: the generated boxship.yml', () => {
  it('starts with the schema line, is commented, and loads with the real loader once hosts are filled in', () => {
    const dir = exampleCopy();
    const facts = detectApp(dir);
    const text = renderConfig(facts, { pins: { 'node:20-bookworm-slim': PIN } });
    expect(text.split('\n')[0]).toBe(SCHEMA_LINE);
    expect(text).toMatch(/^hosts: \[\] +# FILL IN/m);
    const filled = text.replace(/^hosts: \[\].*$/m, 'hosts: [deploy@10.0.0.5, deploy@10.0.0.6:2222]');
    const written = writeInit(dir, join(dir, 'boxship.yml'), filled, facts.secretsFile);
    expect(written).toEqual({ config: join(dir, 'boxship.yml'), gitignoreChanged: true, secretsCreated: true, secretFiles: { created: [], kept: [] } });
    const config = loadConfig(join(dir, 'boxship.yml'));
    expect(config).toMatchObject({
      service: 'hello',
      app: { port: 3000, secretsFile: join(dir, '.env.secrets') },
      healthcheck: { path: '/health', port: 3000 },
    });
    expect(config.build).toMatchObject({ target: 'runtime', include: ['extra-ca.crt'], pins: { 'node:20-bookworm-slim': PIN } });
    expect(config.hosts.map((h) => `${h.user}@${h.hostname}:${h.port}`)).toEqual(['deploy@10.0.0.5:22', 'deploy@10.0.0.6:2222']);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/\n\.env\.secrets\n$/);
    expect(statSync(join(dir, '.env.secrets')).mode & 0o777).toBe(0o600);
  });

  it('with --host the file loads as written', () => {
    const dir = exampleCopy();
    const facts = detectApp(dir);
    writeInit(dir, join(dir, 'boxship.yml'), renderConfig(facts, { hosts: ['root@127.0.0.1:2201'], unpinned: ['node:20-bookworm-slim'] }), facts.secretsFile);
    const config = loadConfig(join(dir, 'boxship.yml'));
    expect(config.hosts).toHaveLength(1);
    expect(config.build.pins).toEqual({});
  });

  it('quotes odd values and takes HEALTHCHECK ports that differ from the app port', () => {
    const text = renderConfig(
      {
        service: 'x',
        dockerfile: 'Dockerfile',
        exposePort: 8000,
        healthcheck: { path: '/h#x', port: 9000 },
        stages: 1,
        git: false,
        include: ['a #b.txt'],
        secretsFile: '.env: prod',
        secretsExists: false,
      },
      { hosts: ['a@b'] },
    );
    expect(text).toContain('secrets_file: ".env: prod"');
    expect(text).toContain('include: ["a #b.txt"]');
    expect(text).toMatch(/^ {2}port: 9000 +# from HEALTHCHECK$/m);
  });

  it('never overwrites, and names the next three commands', () => {
    const dir = exampleCopy();
    writeFileSync(join(dir, 'boxship.yml'), 'mine\n');
    let err: unknown;
    try {
      writeInit(dir, join(dir, 'boxship.yml'), 'new\n', '.env.secrets');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect(readFileSync(join(dir, 'boxship.yml'), 'utf8')).toBe('mine\n');
    expect(ignores('node_modules\n/.env.secrets\n', '.env.secrets')).toBe(true);
    const next = nextCommands('boxship.yml', detectApp(dir), true, false);
    expect(next).toHaveLength(3);
    expect(next[1]).toBe('git add boxship.yml .gitignore && git commit -m "Deploy with boxship"');
    expect(next[2]).toBe('boxship deploy');
  });
});
