/** `boxship init` in a copy of the example app, then `boxship deploy` with only the hosts filled in. */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { ensureRedisImage } from '../helpers/redis-image.js';
import { HOSTS, TEST_KEY, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, wipeHost } from '../helpers/run.js';
import { testnetAddress } from '../helpers/swarm.js';

/**
 * The written boxship.yml with its empty hosts: list replaced by the test hosts (the one edit a user makes). With
 * `privateAddresses`, each host's address on the test network too: an accessory on the first host is reached there
 * from the others (the SSH address of a test host is a loopback port).
 */
function fillHosts(file: string, text: string, privateAddresses = false): void {
  const priv = (h: (typeof HOSTS)[number]) => (privateAddresses ? `, private_address: "${testnetAddress(h)}"` : '');
  const hosts = HOSTS.map((h) => `  - { address: "${h.address}", identity_file: ${TEST_KEY}, known_hosts: ${TEST_KNOWN_HOSTS}${priv(h)} }`).join('\n');
  writeFileSync(file, text.replace(/^hosts: \[\].*$/m, `hosts:\n${hosts}`));
}

/** `boxship deploy` succeeds and every host's proxy then answers 200. */
async function deployServes(dir: string): Promise<void> {
  const deploy = await boxship(['deploy'], { cwd: dir });
  expect(deploy.code, `${deploy.stdout}\n${deploy.stderr}`).toBe(0);
  for (const h of HOSTS) {
    const res = await fetch(`http://127.0.0.1:${h.httpPort}/`);
    expect(res.status).toBe(200);
  }
}

describe('init then deploy', () => {
  let app: ExampleApp;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    // The example helper writes its own boxship.yml: start from an app that has none.
    execFileSync('git', ['rm', '-q', '--cached', 'boxship.yml'], { cwd: app.dir });
    rmSync(join(app.dir, 'boxship.yml'));
    app.commit('no boxship.yml');
  });

  it('writes a config that deploys unedited except for the hosts, and refuses to overwrite it', async () => {
    const init = await boxship(['init'], { cwd: app.dir });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/Next:\n {2}1\. .*\n {2}2\. git add boxship\.yml \.gitignore .*\n {2}3\. boxship deploy\n/);
    const file = join(app.dir, 'boxship.yml');
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/boxship/schema/boxship.schema.json');
    fillHosts(file, text);

    const again = await boxship(['init'], { cwd: app.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');

    app.commit('boxship init');
    await deployServes(app.dir);
  });

  it('reads a compose.yaml: an app on port 8000 with a Redis accessory deploys with only the hosts filled in, and serves', async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    const redis = ensureRedisImage();
    const composed = makeExampleApp();
    execFileSync('git', ['rm', '-q', '--cached', 'boxship.yml'], { cwd: composed.dir });
    rmSync(join(composed.dir, 'boxship.yml'));
    // The example app listens on $PORT, which boxship sets to app.port: compose says 8000, the Dockerfile EXPOSEs 3000.
    writeFileSync(
      join(composed.dir, 'compose.yaml'),
      [
        'services:',
        '  web:',
        '    build: { context: ., target: runtime }',
        '    ports: ["8000:8000"]',
        '    environment:',
        '      - PORT=8000',
        '      - REDIS_HOST=cache',
        '      - API_TOKEN=tok-h19-init',
        '    healthcheck:',
        '      test: ["CMD-SHELL", "wget -qO- http://localhost:8000/health || exit 1"]',
        '    depends_on: [cache]',
        '  cache:',
        `    image: ${redis}`,
        '    volumes: ["cache-data:/data"]',
        'volumes:',
        '  cache-data: {}',
        '',
      ].join('\n'),
    );
    composed.commit('an app described by compose.yaml');

    const init = await boxship(['init'], { cwd: composed.dir });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('from compose.yaml (services.web: port 8000');
    const file = join(composed.dir, 'boxship.yml');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^ {2}port: 8000 +# from services\.web\.ports in compose\.yaml$/m);
    expect(text).not.toContain('tok-h19-init');
    expect(readFileSync(join(composed.dir, '.env.secrets'), 'utf8')).toContain('API_TOKEN=tok-h19-init\n');
    fillHosts(file, text, true);
    composed.commit('boxship init');

    await deployServes(composed.dir);
    // The accessory is reached by its compose name, as compose's REDIS_HOST says.
    const kv = await fetch(`http://127.0.0.1:${HOSTS[0]!.httpPort}/kv/nothing`);
    expect(kv.status, await kv.clone().text()).toBe(200);
  });
});
