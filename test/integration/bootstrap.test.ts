/**
 * Bare-host bootstrap: a Debian host with only sshd (scripts/test-hosts.sh flavour `bare`, reset here so it starts
 * without Docker) gets docker.io from Debian's mirror and a running engine from `boxship setup`; then the example app
 * releases and rolls out there, as root and as a non-root user in the docker group.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { BARE_HOST, BARE_HOST_SPEC, REPO } from '../helpers/paths.js';
import { boxship, onHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const host = BARE_HOST;

async function version(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${host.httpPort}/`);
  return ((await res.json()) as { version: string }).version;
}

describe('bare-host bootstrap', () => {
  let app: ExampleApp;

  beforeAll(() => {
    // A fresh bare host every run: no Docker, whatever an earlier run installed.
    execFileSync('bash', ['scripts/test-hosts.sh', 'reset', BARE_HOST_SPEC], { cwd: REPO, stdio: 'inherit' });
    app = makeExampleApp();
    app.writeConfig({ hosts: [host.address] });
    app.commit('bare host');
  });

  it(
    'setup installs Docker from the distribution, starts it and runs the proxy',
    async () => {
      expect(await onHost(host.container, 'command -v docker || echo none')).toBe('none\n');
      const r = await boxship(['setup'], { cwd: app.dir });
      ok(r);
      expect(r.stderr + r.stdout).toContain('Docker is not installed: installing docker.io from the distribution');
      expect(r.stderr + r.stdout).toMatch(/Docker \S+ installed and running/);
      expect(await onHost(host.container, "dpkg-query -W -f '${Status}' docker.io")).toBe('install ok installed');
      expect(await onHost(host.container, 'docker ps --format "{{.Names}} {{.Status}}"')).toMatch(/^hello-proxy Up/m);
    },
    20 * 60_000,
  );

  it('a second setup finds Docker and installs nothing', async () => {
    const r = await boxship(['setup'], { cwd: app.dir });
    ok(r);
    expect(r.stderr + r.stdout).not.toContain('installing docker.io');
  });

  it('release and rollout of the example app work on the bootstrapped host', async () => {
    app.bumpVersion('b1');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await version()).toBe('b1');
  });

  it('a non-root SSH user in the docker group releases and rolls out', async () => {
    // A server whose admin let `deploy` use Docker; the root-owned service is cleared so deploy's state is its own.
    await onHost(host.container, 'usermod -aG docker deploy && docker rm -f $(docker ps -aq) >/dev/null && docker network prune -f >/dev/null');
    app.writeConfig({ hosts: [`deploy@127.0.0.1:${host.sshPort}`] });
    app.commit('as deploy');
    app.bumpVersion('b2');
    ok(await boxship(['setup'], { cwd: app.dir }));
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await version()).toBe('b2');
    expect(await onHost(host.container, 'ls /home/deploy/.boxship')).toContain('hello');
  });
});
