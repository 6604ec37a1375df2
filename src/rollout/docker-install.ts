/**
 * Bare-host bootstrap: a Debian/Ubuntu server with only sshd gets Docker from its distribution (`docker.io`), started
 * (and enabled at boot where systemd runs), before setup or a rollout prepares it. One probe tells what the host has;
 * the install runs only when `command -v docker` fails (never a reinstall), as root or with `sudo -n`. Where boxship
 * cannot install (no root and no passwordless sudo, no apt-get), the error says what to run by hand.
 *
 * The builders here are pure (argv in, argv out) and unit-tested for their exact command lines.
 */
import { type Command, script } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { HostError } from '../util/errors.js';
import type { DeployContext } from '../fleet/context.js';

/** What the probe found on a host. */
export interface DockerProbe {
  /** `command -v docker` succeeded. */
  installed: boolean;
  /** The engine's version when `docker version` answered for the login user; else undefined. */
  serverVersion?: string;
  /** What `docker version` said when it did not answer (permission denied, daemon not running). */
  error?: string;
  root: boolean;
  /** Not root, but `sudo -n true` works (passwordless sudo). */
  sudo: boolean;
  apt: boolean;
  /** PID 1 is systemd: the engine is enabled and started as a unit. */
  systemd: boolean;
  /** PRETTY_NAME from /etc/os-release, for messages. */
  os: string;
}

/** apt may wait this long for a lock held by unattended-upgrades on a freshly booted server. */
const APT_LOCK_WAIT_SECONDS = 300;
/** Downloading and unpacking docker.io and its dependencies: minutes on a slow mirror, never seconds. */
const INSTALL_TIMEOUT_MS = 20 * 60_000;
/** How long a started engine has to answer `docker info`. */
const START_WAIT_SECONDS = 60;

/** One round trip: is docker there, does it answer, and could boxship install it (root/sudo, apt, systemd). */
export function probeDocker(): Command {
  return script(
    'read',
    'check that Docker is installed and answers',
    [
      'if command -v docker >/dev/null 2>&1; then echo installed=yes; else echo installed=no; fi',
      `if v=$(docker version --format '{{.Server.Version}}' 2>&1); then echo "server=$v"; else echo "error=$(printf %s "$v" | tr '\\n' ' ')"; fi`,
      'if [ "$(id -u)" = 0 ]; then echo root=yes; else echo root=no; fi',
      'if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi',
      'if command -v apt-get >/dev/null 2>&1; then echo apt=yes; else echo apt=no; fi',
      'if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then echo systemd=yes; else echo systemd=no; fi',
      'echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"',
    ].join('\n'),
  );
}

export function parseDockerProbe(text: string): DockerProbe {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const yes = (k: string) => kv.get(k) === 'yes';
  const server = kv.get('server');
  const error = kv.get('error');
  return {
    installed: yes('installed'),
    ...(server ? { serverVersion: server } : {}),
    ...(error ? { error } : {}),
    root: yes('root'),
    sudo: yes('sudo'),
    apt: yes('apt'),
    systemd: yes('systemd'),
    os: kv.get('os') || 'an unknown system',
  };
}

/** How root's commands are run: directly as root, else through passwordless sudo. */
export function asRoot(probe: Pick<DockerProbe, 'root'>): string[] {
  return probe.root ? [] : ['sudo', '-n'];
}

/** `apt-get install -y docker.io`, non-interactive, waiting for a held apt lock, with a generous timeout. */
export function installDocker(prefix: string[]): Command {
  const apt = `apt-get -o DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS}`;
  return {
    argv: [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', 'sh', '-c', `${apt} update -q && ${apt} install -y -q docker.io`],
    why: 'install Docker (docker.io from the distribution)',
    effect: 'write',
    timeoutMs: INSTALL_TIMEOUT_MS,
  };
}

/**
 * Starts the engine: as a systemd unit, enabled at boot, where systemd is PID 1; otherwise dockerd detached from the
 * SSH session (setsid, output to /var/log/dockerd.log). Either way it waits until `docker info` answers.
 */
export function startDocker(prefix: string[], systemd: boolean): Command {
  const wait = `for i in $(seq ${START_WAIT_SECONDS * 2}); do docker info >/dev/null 2>&1 && exit 0; sleep 0.5; done`;
  const body = systemd
    ? `systemctl enable --now docker && ${wait}; echo "Docker did not answer after ${START_WAIT_SECONDS}s; systemctl status docker:" >&2; systemctl status --no-pager docker >&2; exit 1`
    : `docker info >/dev/null 2>&1 || { setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null & }; ${wait}; echo "dockerd did not answer after ${START_WAIT_SECONDS}s; the end of /var/log/dockerd.log:" >&2; tail -n 20 /var/log/dockerd.log >&2; exit 1`;
  return {
    argv: [...prefix, 'sh', '-c', body],
    effect: 'write',
    why: systemd ? 'start Docker and enable it at boot (systemctl enable --now docker)' : 'start dockerd in the background (no systemd)',
    timeoutMs: (START_WAIT_SECONDS + 30) * 1000,
  };
}

/** A non-root login user may use the engine through the docker group (the group applies from its next login). */
export function addToDockerGroup(prefix: string[], user: string): Command {
  return { argv: [...prefix, 'usermod', '-aG', 'docker', user], why: `add ${user} to the docker group`, effect: 'write' };
}

/** What to run by hand on a host boxship cannot install Docker on. */
export function manualInstall(user: string, systemd = true): string {
  const start = systemd ? 'systemctl enable --now docker' : 'setsid dockerd >/var/log/dockerd.log 2>&1 &';
  const group = user === 'root' ? '' : ` && usermod -aG docker ${user}`;
  return `apt-get update && apt-get install -y docker.io && ${start}${group}`;
}

/**
 * Why boxship cannot install Docker on this host (and what to run by hand), or undefined when it can.
 */
export function cannotInstall(host: string, user: string, probe: DockerProbe): HostError | undefined {
  if (!probe.apt) {
    return new HostError(host, `Docker is not installed, and boxship installs it only on Debian or Ubuntu (apt-get); this host runs ${probe.os}`, {
      hint: `install Docker by hand (https://docs.docker.com/engine/install/), start it${user === 'root' ? '' : ` and add ${user} to the docker group (usermod -aG docker ${user})`}, then run boxship setup again`,
    });
  }
  if (!probe.root && !probe.sudo) {
    return new HostError(host, `Docker is not installed, and ${user} can neither install it (not root) nor use passwordless sudo (sudo -n)`, {
      hint: `as root on the host run: ${manualInstall(user, probe.systemd)}; then run boxship setup again (or give ${user} passwordless sudo and boxship installs it)`,
    });
  }
  return undefined;
}

/**
 * Makes sure Docker is installed and answers for the login user, installing and starting it on a bare Debian/Ubuntu
 * host. `probe` is the answer to probeDocker() (run by the caller, in parallel with its other reads).
 */
export async function ensureDocker(ctx: DeployContext, ssh: Runner, probe: DockerProbe): Promise<void> {
  const user = ssh.config.user;
  if (probe.serverVersion) return;
  if (probe.installed) {
    // Installed but not answering: never reinstalled; say what is wrong.
    const denied = /permission denied/i.test(probe.error ?? '');
    throw new HostError(ssh.name, `Docker does not answer: ${probe.error ?? 'no answer'}`, {
      hint: denied
        ? `add ${user} to the docker group (as root: usermod -aG docker ${user}), then run boxship again (the group applies from the next login)`
        : `start Docker on the host (${probe.systemd ? 'systemctl enable --now docker' : 'setsid dockerd >/var/log/dockerd.log 2>&1 &'}) and make sure ${user} may use it (docker group)`,
    });
  }
  const refusal = cannotInstall(ssh.name, user, probe);
  if (refusal) throw refusal;
  const prefix = asRoot(probe);
  ctx.report({
    kind: 'step',
    host: ssh.name,
    message: `Docker is not installed: installing docker.io from the distribution (${probe.os}; this takes a few minutes)`,
  });
  await ssh.run(installDocker(prefix));
  ctx.report({ kind: 'step', host: ssh.name, message: probe.systemd ? 'starting Docker (enabled at boot)' : 'starting dockerd in the background' });
  await ssh.run(startDocker(prefix, probe.systemd));
  if (!probe.root) await ssh.run(addToDockerGroup(prefix, user));
  if (ssh.dryRun) return;
  const after = parseDockerProbe(await ssh.run(probeDocker()));
  if (!after.serverVersion) {
    // This SSH session logged in before the docker group existed: the membership counts from the next login.
    throw new HostError(ssh.name, `Docker is installed and running, and ${user} was added to the docker group, which applies from ${user}'s next login`, {
      hint: 'run the same boxship command again (it logs in afresh)',
    });
  }
  ctx.report({ kind: 'step', host: ssh.name, message: `Docker ${after.serverVersion} installed and running` });
}
