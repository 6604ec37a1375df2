/** `boxship init` in a copy of the example app, then `boxship deploy` with only the hosts filled in. */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS, TEST_KEY, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, wipeHost } from '../helpers/run.js';

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
    const hosts = HOSTS.map((h) => `  - { address: "${h.address}", identity_file: ${TEST_KEY}, known_hosts: ${TEST_KNOWN_HOSTS} }`).join('\n');
    writeFileSync(file, text.replace(/^hosts: \[\].*$/m, `hosts:\n${hosts}`));

    const again = await boxship(['init'], { cwd: app.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');

    app.commit('boxship init');
    const deploy = await boxship(['deploy'], { cwd: app.dir });
    expect(deploy.code, `${deploy.stdout}\n${deploy.stderr}`).toBe(0);
    for (const h of HOSTS) {
      const res = await fetch(`http://127.0.0.1:${h.httpPort}/`);
      expect(res.status).toBe(200);
    }
  });
});
