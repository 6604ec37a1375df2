/**
 * Values that reach a host as words of a command or lines of a file are refused when they could be read as
 * something else: an option, an extra env line, a mount option. Each refusal names file:line:column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseImageRef } from '../../src/config/image-ref.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { parseSecrets } from '../../src/config/secrets.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'boxship-inputs-'));
  file = path.join(dir, 'boxship.yml');
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function problems(...lines: string[]) {
  writeFileSync(file, `${['service: hello', 'hosts: [root@10.0.0.5]', ...lines].join('\n')}\n`);
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => ({ at: `${path.basename(p.file)}:${p.line}:${p.column}`, path: p.path, message: p.message }));
  }
  throw new Error('expected the config to be rejected');
}

describe('parseImageRef', () => {
  it.each([
    ['caddy', { name: 'caddy' }],
    ['caddy:2', { name: 'caddy', tag: '2' }],
    ['boxship-proxy:caddy-2.6.2', { name: 'boxship-proxy', tag: 'caddy-2.6.2' }],
    ['registry.example.com:5000/team/app:v1.2', { name: 'registry.example.com:5000/team/app', tag: 'v1.2' }],
    ['localhost/app', { name: 'localhost/app' }],
    [`node@sha256:${'a'.repeat(64)}`, { name: 'node', digest: `sha256:${'a'.repeat(64)}` }],
    [`node:20@sha256:${'b'.repeat(64)}`, { name: 'node', tag: '20', digest: `sha256:${'b'.repeat(64)}` }],
  ])('accepts %s', (text, parsed) => expect(parseImageRef(text)).toEqual({ ok: true, ...parsed }));

  it.each([
    ['--privileged', /starts with "-"/],
    ['-v', /starts with "-"/],
    ['caddy --privileged', /space/],
    ['Caddy', /"Caddy" is not a valid name part/],
    ['caddy:', /"" is not a tag/],
    ['caddy@sha256:xyz', /not a digest/],
    ['a//b', /"" is not a valid name part/],
    ['', /empty/],
  ])('refuses %j', (text, why) => {
    const r = parseImageRef(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(why);
  });
});

const MOUNT_PATH = 'expected an absolute path inside the container, starting with /, without ":", ",", "=", quotes or line breaks';

describe('inputs that reach a host', () => {
  it('refuses an env value with a newline (it would add a line to the env file) or a NUL', () => {
    expect(problems('app:', '  env:', '    GREETING: "hi\\nNODE_OPTIONS=--require=/tmp/x.js"', '    OTHER: "a\\0b"', '    FINE: "a b = c"')).toEqual([
      { at: 'boxship.yml:5:15', path: 'app.env.GREETING', message: expect.stringMatching(/^expected a value without newlines or NUL characters/) },
      { at: 'boxship.yml:6:12', path: 'app.env.OTHER', message: expect.stringMatching(/^expected a value without newlines or NUL characters/) },
    ]);
  });

  it('refuses a proxy image that docker would read as an option', () => {
    expect(problems('proxy:', '  image: "--privileged"')).toEqual([
      { at: 'boxship.yml:4:10', path: 'proxy.image', message: expect.stringMatching(/starts with "-", so docker would read it as an option/) },
    ]);
  });

  it('refuses a pinned base image name that is not an image reference', () => {
    expect(problems('build:', '  pins:', `    "node 20": sha256:${'a'.repeat(64)}`)).toEqual([
      { at: 'boxship.yml:5:5', path: 'build.pins["node 20"]', message: expect.stringMatching(/space/) },
    ]);
  });

  it('refuses mount options smuggled into a volume path, and takes them as an explicit mode', () => {
    expect(problems('app:', '  volumes: { db: "/app/db:ro", logs: "/var/log:rw,z" }')).toEqual([
      {
        at: 'boxship.yml:4:18',
        path: 'app.volumes.db',
        message: `${MOUNT_PATH}, got "/app/db:ro"`,
      },
      {
        at: 'boxship.yml:4:38',
        path: 'app.volumes.logs',
        message: `${MOUNT_PATH}, got "/var/log:rw,z"`,
      },
    ]);
    writeFileSync(file, 'service: hello\nhosts: [root@10.0.0.5]\napp:\n  volumes: { db: { path: /app/db, mode: ro }, data: /data }\n');
    expect(loadConfig(file).app.volumes).toEqual([
      { name: 'db', path: '/app/db', readOnly: true },
      { name: 'data', path: '/data', readOnly: false },
    ]);
  });

  it("refuses a mount path that Swarm's CSV --mount would split (a second source=) or a quote would reopen", () => {
    expect(
      problems(
        'app:',
        '  volumes: { d: "/d,source=/", e: "/e=x", q: "/q\\"x", s: { path: "/s\'x" }, n: "/n\\nx" }',
        'accessories:',
        '  db:',
        '    image: redis:7',
        '    volumes: { data: "/data,source=/etc" }',
      ),
    ).toEqual([
      { at: 'boxship.yml:4:17', path: 'app.volumes.d', message: `${MOUNT_PATH}, got "/d,source=/"` },
      { at: 'boxship.yml:4:35', path: 'app.volumes.e', message: `${MOUNT_PATH}, got "/e=x"` },
      { at: 'boxship.yml:4:46', path: 'app.volumes.q', message: `${MOUNT_PATH}, got "/q\\"x"` },
      { at: 'boxship.yml:4:66', path: 'app.volumes.s.path', message: `${MOUNT_PATH}, got "/s'x"` },
      { at: 'boxship.yml:4:79', path: 'app.volumes.n', message: `${MOUNT_PATH}, got "/n\\nx"` },
      { at: 'boxship.yml:8:22', path: 'accessories.db.volumes.data', message: `${MOUNT_PATH}, got "/data,source=/etc"` },
    ]);
  });

  it('refuses a health check path that is not a URL path', () => {
    expect(problems('healthcheck:', '  path: "/health; rm -rf /"')).toEqual([
      { at: 'boxship.yml:4:9', path: 'healthcheck.path', message: expect.stringMatching(/^expected a URL path starting with \//) },
    ]);
    expect(problems('healthcheck:', '  path: "/health\\n"')).toHaveLength(1);
  });

  it('refuses a secrets file value with a NUL or a carriage return, naming the line but not the value', () => {
    const { problems: found } = parseSecrets('A=ok\nB=sec\0ret\nC=x\ry\n', '.env.secrets');
    expect(found.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      '.env.secrets:2: the value of B contains a NUL or carriage return character',
      '.env.secrets:3: the value of C contains a NUL or carriage return character',
    ]);
  });

  it('refuses the secrets file in build.include, and files outside the context', () => {
    writeFileSync(path.join(dir, '.env.secrets'), 'TOKEN=abc\n');
    writeFileSync(path.join(dir, 'extra-ca.crt'), 'cert\n');
    expect(problems('app: { secrets_file: .env.secrets }', 'build:', '  include: [extra-ca.crt, .env.secrets, ../outside, missing.txt]')).toEqual([
      { at: 'boxship.yml:5:27', path: 'build.include[1]', message: '.env.secrets is the secrets file (app.secrets_file): it must never be part of an image' },
      { at: 'boxship.yml:5:41', path: 'build.include[2]', message: expect.stringMatching(/^\.\.\/outside is outside the build context/) },
      { at: 'boxship.yml:5:53', path: 'build.include[3]', message: expect.stringMatching(/^file not found: .*missing\.txt$/) },
    ]);
  });
});
