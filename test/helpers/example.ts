/**
 * A throwaway git repo holding a copy of examples/hello and a boxship.yml aimed at the simulated hosts, used by the
 * tests, the benches and the demo alike.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOSTS, REPO, TEST_KEY, TEST_KNOWN_HOSTS } from './paths.js';

export interface ExampleApp {
  dir: string;
  /** Replace VERSION in server.js and commit: a code-only change. */
  bumpVersion(version: string): string;
  commit(message: string): string;
  writeConfig(extra?: ConfigOverrides): void;
}

export interface ConfigOverrides {
  /** Service name (default hello). */
  service?: string;
  hosts?: string[];
  knownHosts?: string;
  instances?: number;
  pins?: Record<string, string> | null;
  /** build.include; makeExampleApp's writeConfig defaults it to the CA file when the app has one. */
  include?: string[];
  /** Raw YAML appended at the end (top-level keys). */
  extraYaml?: string;
  /** Raw YAML lines inside `app:` (e.g. `  env: { DRAIN_MODE: keepalive }`). */
  appYaml?: string[];
}

/** BOXSHIP_TEST_PROXY_IMAGE (e.g. boxship-proxy:caddy-2.11.4) runs the tests and benches behind another proxy image. */
const PROXY_IMAGE = process.env.BOXSHIP_TEST_PROXY_IMAGE;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'boxship test',
      GIT_AUTHOR_EMAIL: 'test@boxship.invalid',
      GIT_COMMITTER_NAME: 'boxship test',
      GIT_COMMITTER_EMAIL: 'test@boxship.invalid',
    },
  }).trim();
}

export function localImageId(ref: string): string {
  return execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { encoding: 'utf8' }).trim();
}

export function exampleConfigYaml(o: ConfigOverrides = {}): string {
  const hosts = o.hosts ?? HOSTS.map((h) => h.address);
  const pins = o.pins === undefined ? { 'node:20-bookworm-slim': localImageId('node:20-bookworm-slim') } : o.pins;
  const lines = [`service: ${o.service ?? 'hello'}`, 'build:', '  context: .', '  target: runtime'];
  // Files from outside git (the CA bundle is git-ignored): the build context is the commit plus exactly these.
  if (o.include?.length) lines.push(`  include: [${o.include.map((f) => (/^[\w./-]+$/.test(f) ? f : JSON.stringify(f))).join(', ')}]`);
  if (pins) {
    lines.push('  pins:');
    for (const [ref, id] of Object.entries(pins)) lines.push(`    ${ref}: ${id}`);
  }
  lines.push(
    'ssh:',
    `  identity_file: ${TEST_KEY}`,
    `  known_hosts: ${o.knownHosts ?? TEST_KNOWN_HOSTS}`,
    'hosts:',
    ...hosts.map((h) => `  - ${h}`),
    `instances: ${o.instances ?? 1}`,
    'app:',
    '  port: 3000',
    ...(o.appYaml ?? []),
    // A test's own proxy block (extraYaml) gets the image line instead: YAML allows one `proxy:` key.
    ...(PROXY_IMAGE && !/^proxy:$/m.test(o.extraYaml ?? '') ? ['proxy:', `  image: ${PROXY_IMAGE}`] : []),
    'healthcheck:',
    '  path: /health',
    '  interval: 500ms',
    '  timeout: 2s',
    '  retries: 20',
  );
  if (o.extraYaml) lines.push(PROXY_IMAGE ? o.extraYaml.replace(/^proxy:$/m, `proxy:\n  image: ${PROXY_IMAGE}`) : o.extraYaml);
  return `${lines.join('\n')}\n`;
}

export function makeExampleApp(base = tmpdir()): ExampleApp {
  const dir = mkdtempSync(join(base, 'boxship-hello-'));
  cpSync(join(REPO, 'examples', 'hello'), dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  // The build reaches npm through this machine's intercepting CA, if it has one (see examples/hello/Dockerfile).
  // It is git-ignored, so it reaches the build only because boxship.yml names it in build.include.
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  if (existsSync(ca) && !existsSync(join(dir, 'extra-ca.crt'))) cpSync(ca, join(dir, 'extra-ca.crt'));
  const include = existsSync(join(dir, 'extra-ca.crt')) ? ['extra-ca.crt'] : [];
  git(dir, 'init', '-q', '-b', 'main');
  const app: ExampleApp = {
    dir,
    writeConfig(extra) {
      writeFileSync(join(dir, 'boxship.yml'), exampleConfigYaml({ include, ...extra }));
    },
    commit(message) {
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
    bumpVersion(version) {
      const file = join(dir, 'server.js');
      const src = readFileSync(file, 'utf8');
      const line = /const VERSION = '[^']*';/;
      if (!line.test(src)) throw new Error('server.js has no `const VERSION = ...;` line');
      writeFileSync(file, src.replace(line, `const VERSION = '${version}';`));
      return app.commit(`version ${version}`);
    },
  };
  app.writeConfig();
  app.commit('initial');
  return app;
}
