/**
 * Hosts given only as aliases of an OpenSSH client config (ssh.config_file): port, user, key and a jump host all come
 * from that file, and a release then a rollout go through. Host b is reached through host a as a jump host, by its
 * container name on the test network, which this machine cannot dial directly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS, knownName, TEST_KEY, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

async function version(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { version: string }).version;
}

describe('hosts from an ssh config', () => {
  let app: ExampleApp;
  const [a, b] = HOSTS;

  beforeAll(async () => {
    await Promise.all([a, b].map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    const stamp = Date.now();
    // Host b's key as it is known on 127.0.0.1, under the name it has behind the jump host (port 22).
    const keyOfB = readFileSync(TEST_KNOWN_HOSTS, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${knownName(b)} `))!
      .split(' ')
      .slice(1)
      .join(' ');
    const known = join(app.dir, '..', `known_hosts_sshconfig_${stamp}`);
    writeFileSync(known, `${readFileSync(TEST_KNOWN_HOSTS, 'utf8')}${b.container} ${keyOfB}\n`);
    const sshConfig = join(app.dir, '..', `ssh_config_${stamp}`);
    writeFileSync(
      sshConfig,
      [
        '# aliases for the boxship test hosts',
        'Host app-a',
        '  HostName 127.0.0.1',
        `  Port ${a.sshPort}`,
        '',
        'Host app-b',
        `  HostName ${b.container}`,
        '  Port 22',
        '  ProxyJump app-a',
        '',
        'Host app-*',
        '  User root',
        `  IdentityFile ${TEST_KEY}`,
        '',
        'Host *',
        // First value wins: the lines above already set these for app-a and app-b.
        '  User nobody',
        '  Port 1',
        '',
      ].join('\n'),
    );
    app.writeConfig({ hosts: ['app-a', 'app-b'], knownHosts: known });
    const file = join(app.dir, 'boxship.yml');
    const yaml = readFileSync(file, 'utf8');
    // No key in boxship.yml: it must come from the ssh config.
    expect(yaml).toMatch(/^ {2}identity_file: .*\n/m);
    writeFileSync(file, yaml.replace(/^ {2}identity_file: .*\n/m, `  config_file: ${sshConfig}\n`));
  });

  it('releases and rolls out to hosts named only by their aliases', async () => {
    const sha = app.bumpVersion('via-ssh-config');
    const rel = await boxship(['release', '--json'], { cwd: app.dir, env: { SSH_AUTH_SOCK: '' } });
    ok(rel);
    const out = jsonOutput<{ tag: string; hosts: { host: string; ok: boolean }[] }>(rel);
    expect(out.tag).toBe(`hello:${sha}`);
    expect(out.hosts.map((h) => [h.host, h.ok])).toEqual([
      ['app-a', true],
      ['app-b', true],
    ]);

    const roll = await boxship(['rollout'], { cwd: app.dir, env: { SSH_AUTH_SOCK: '' } });
    ok(roll);
    for (const h of [a, b]) expect(await version(h.httpPort)).toBe('via-ssh-config');

    const st = await boxship(['status', '--json'], { cwd: app.dir });
    ok(st);
    expect(jsonOutput<{ host: string; current?: string }[]>(st).map((h) => [h.host, h.current])).toEqual([
      ['app-a', sha],
      ['app-b', sha],
    ]);
  });

  it('without the ssh config the aliases mean nothing', async () => {
    const file = join(app.dir, 'boxship.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}config_file: .*\n/m, `  config_file: none\n  identity_file: ${TEST_KEY}\n`));
    const r = await boxship(['releases'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/app-a: (host name not found|no answer)/);
  });
});
