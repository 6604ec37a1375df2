/** Bare-host bootstrap: the probe's parsing, the exact install/start command lines, and when boxship refuses. */
import { describe, expect, it } from 'vitest';
import { toShell } from '../../src/hosts/command.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import type { DeployContext } from '../../src/fleet/context.js';
import {
  addToDockerGroup,
  asRoot,
  cannotInstall,
  ensureDocker,
  installDocker,
  manualInstall,
  parseDockerProbe,
  probeDocker,
  startDocker,
  type DockerProbe,
} from '../../src/rollout/docker-install.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const bare: DockerProbe = {
  installed: false,
  error: 'sh: 1: docker: not found',
  root: true,
  sudo: false,
  apt: true,
  systemd: false,
  os: 'Debian GNU/Linux 12 (bookworm)',
};

describe('docker install commands', () => {
  it('probes in one read-only round trip and parses what it printed', () => {
    const c = probeDocker();
    expect(c.effect).toBe('read');
    expect(c.argv[2]).toContain('command -v docker');
    expect(c.argv[2]).toContain('sudo -n true');
    expect(c.argv[2]).toContain('/proc/1/comm');
    expect(
      parseDockerProbe('installed=no\nerror=sh: 1: docker: not found \nroot=yes\nsudo=no\napt=yes\nsystemd=no\nos=Debian GNU/Linux 12 (bookworm)\n'),
    ).toEqual(bare);
    expect(parseDockerProbe('installed=yes\nserver=20.10.24+dfsg1\nroot=no\nsudo=no\napt=yes\nsystemd=yes\nos=\n')).toEqual({
      installed: true,
      serverVersion: '20.10.24+dfsg1',
      root: false,
      sudo: false,
      apt: true,
      systemd: true,
      os: 'an unknown system',
    });
  });

  it('installs docker.io non-interactively, as root or through sudo -n, with a generous timeout', () => {
    expect(asRoot({ root: true })).toEqual([]);
    expect(asRoot({ root: false })).toEqual(['sudo', '-n']);
    const root = installDocker([]);
    expect(toShell(root)).toBe(
      "env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get -o DPkg::Lock::Timeout=300 update -q && apt-get -o DPkg::Lock::Timeout=300 install -y -q docker.io'",
    );
    expect(root.timeoutMs).toBe(20 * 60_000);
    expect(root.effect).toBe('write');
    expect(installDocker(['sudo', '-n']).argv.slice(0, 4)).toEqual(['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive']);
  });

  it('starts Docker with systemd (enabled at boot) or as a detached dockerd, and waits for docker info', () => {
    const sd = startDocker(['sudo', '-n'], true);
    expect(sd.argv.slice(0, 4)).toEqual(['sudo', '-n', 'sh', '-c']);
    expect(sd.argv[4]).toMatch(/^systemctl enable --now docker && for i in \$\(seq 120\); do docker info >\/dev\/null 2>&1 && exit 0; sleep 0.5; done; /);
    const bg = startDocker([], false);
    expect(bg.argv[2]).toMatch(/^docker info >\/dev\/null 2>&1 \|\| \{ setsid dockerd >\/var\/log\/dockerd.log 2>&1 <\/dev\/null & \}; for i in \$\(seq 120\)/);
    expect(bg.argv[2]).toContain('tail -n 20 /var/log/dockerd.log');
    expect(bg.timeoutMs).toBe(90_000);
    expect(addToDockerGroup(['sudo', '-n'], 'deploy').argv).toEqual(['sudo', '-n', 'usermod', '-aG', 'docker', 'deploy']);
  });

  it('refuses where it cannot install, saying exactly what to run by hand', () => {
    expect(cannotInstall('h1', 'root', bare)).toBeUndefined();
    expect(cannotInstall('h1', 'deploy', { ...bare, root: false, sudo: true })).toBeUndefined();
    const e = cannotInstall('h1', 'deploy', { ...bare, root: false, sudo: false, systemd: true });
    expect(e?.message).toBe('h1: Docker is not installed, and deploy can neither install it (not root) nor use passwordless sudo (sudo -n)');
    expect(e?.hint).toContain(
      'as root on the host run: apt-get update && apt-get install -y docker.io && systemctl enable --now docker && usermod -aG docker deploy;',
    );
    expect(manualInstall('root', false)).toBe('apt-get update && apt-get install -y docker.io && setsid dockerd >/var/log/dockerd.log 2>&1 &');
    const notApt = cannotInstall('h1', 'root', { ...bare, apt: false, os: 'Fedora Linux 40' });
    expect(notApt?.message).toBe('h1: Docker is not installed, and boxship installs it only on Debian or Ubuntu (apt-get); this host runs Fedora Linux 40');
    expect(notApt?.hint).toContain('https://docs.docker.com/engine/install/');
  });
});

describe('ensureDocker', () => {
  const ctxFor = (events: ProgressEvent[]): DeployContext => ({
    config: undefined as never,
    hosts: [],
    who: 'me',
    command: 'boxship setup',
    report: (e) => events.push(e),
  });

  it('does nothing when Docker answers (never reinstalls)', async () => {
    const host = new ScriptedRunner(hostConfig('h1'));
    await ensureDocker(ctxFor([]), host, { ...bare, installed: true, serverVersion: '26.1.5' });
    expect(host.ran).toEqual([]);
  });

  it('does not reinstall an installed engine that does not answer: it says how to start it or to join the docker group', async () => {
    const host = new ScriptedRunner(hostConfig('h1'));
    await expect(
      ensureDocker(ctxFor([]), host, { ...bare, installed: true, error: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' }),
    ).rejects.toMatchObject({
      message: 'h1: Docker does not answer: Cannot connect to the Docker daemon at unix:///var/run/docker.sock',
      hint: expect.stringContaining('setsid dockerd'),
    });
    await expect(
      ensureDocker(ctxFor([]), host, { ...bare, installed: true, root: false, error: 'permission denied while trying to connect to the Docker daemon socket' }),
    ).rejects.toMatchObject({
      hint: expect.stringContaining('usermod -aG docker root'),
    });
    expect(host.ran).toEqual([]);
  });

  it('installs, starts and reports on a bare host, as root', async () => {
    const events: ProgressEvent[] = [];
    const host = new ScriptedRunner(hostConfig('h1'), [
      { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nserver=20.10.24+dfsg1\nroot=yes\n' } },
    ]);
    await ensureDocker(ctxFor(events), host, bare);
    expect(host.whys()).toEqual([
      'install Docker (docker.io from the distribution)',
      'start dockerd in the background (no systemd)',
      'check that Docker is installed and answers',
    ]);
    expect(events.map((e) => e.kind === 'step' && e.message)).toEqual([
      'Docker is not installed: installing docker.io from the distribution (Debian GNU/Linux 12 (bookworm); this takes a few minutes)',
      'starting dockerd in the background',
      'Docker 20.10.24+dfsg1 installed and running',
    ]);
  });

  it('a non-root user with passwordless sudo: installs through sudo, joins the docker group, and is told to log in again when the group is not live yet', async () => {
    const host = new ScriptedRunner({ ...hostConfig('h1'), user: 'deploy' }, [
      { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nerror=permission denied\n' } },
    ]);
    await expect(ensureDocker(ctxFor([]), host, { ...bare, root: false, sudo: true, systemd: true })).rejects.toMatchObject({
      message: "h1: Docker is installed and running, and deploy was added to the docker group, which applies from deploy's next login",
    });
    expect(host.ran.map((r) => r.line.split(' ').slice(0, 3).join(' '))).toEqual(['sudo -n env', 'sudo -n sh', 'sudo -n usermod', "sh -c 'if"]);
  });

  it('a plan records the install and start without running them', async () => {
    const host = new ScriptedRunner(hostConfig('h1'));
    const dry = new DryRunRunner(host);
    await ensureDocker(ctxFor([]), dry, bare);
    expect(host.ran).toEqual([]);
    expect(dry.steps.map((s) => s.cmd.why)).toEqual(['install Docker (docker.io from the distribution)', 'start dockerd in the background (no systemd)']);
  });
});
