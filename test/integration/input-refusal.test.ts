/**
 * Bad input that would reach a host (an env line, a docker flag, a mount option) is refused by the real CLI with
 * exit 2 and file:line, and nothing happens on any host: no state dir, no container, no image.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost } from '../helpers/run.js';

const untouched = async () => {
  for (const h of HOSTS) {
    expect((await onHost(h.container, 'ls -A /root/.boxship 2>/dev/null; docker ps -aq; docker images -q')).trim()).toBe('');
  }
};

describe('input that would reach a host', () => {
  let app: ExampleApp;
  let good: string;
  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    good = readFileSync(join(app.dir, 'boxship.yml'), 'utf8');
  });

  it.each([
    [
      'an env value with a newline',
      'app:\n  port: 3000\n',
      'app:\n  port: 3000\n  env: { GREETING: "hi\\nNODE_OPTIONS=--inspect" }\n',
      /boxship\.yml:\d+:\d+: app\.env\.GREETING: expected a value without newlines/,
    ],
    [
      'a proxy image that is a docker flag',
      'healthcheck:',
      'proxy: { image: "--privileged" }\nhealthcheck:',
      /boxship\.yml:\d+:\d+: proxy\.image: expected an image reference .*starts with "-"/,
    ],
    [
      'a volume path with :ro',
      'app:\n  port: 3000\n',
      'app:\n  port: 3000\n  volumes: { db: "/app/db:ro" }\n',
      /boxship\.yml:\d+:\d+: app\.volumes\.db: expected an absolute path .* without ":"/,
    ],
  ])('refuses %s with exit 2 and touches no host', async (_name, from, to, message) => {
    expect(good).toContain(from);
    writeFileSync(join(app.dir, 'boxship.yml'), good.replace(from, to));
    for (const args of [['setup'], ['rollout'], ['maintenance', 'on']]) {
      const r = await boxship(args, { cwd: app.dir });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    await untouched();
  });
});
