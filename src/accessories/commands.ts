/**
 * The remote commands of accessories (pure: they return Command data, tested as exact argv). An accessory is one
 * container per host, `<service>-<name>`, on the service network with the alias `<name>`, its data in folders of
 * the service's state dir on the host, its env (and secrets) in a 0600 env file next to them.
 */
import { createHash } from 'node:crypto';
import type { AccessoryConfig } from '../config/types.js';
import { type Command, command, script } from '../hosts/command.js';
import { publishSpec } from '../proxy/commands.js';
import { LABEL, names } from '../fleet/names.js';

/** `<state>/accessories`: every accessory's env file and data folders. */
function accessoriesDir(stateDir: string): string {
  return `${stateDir}/accessories`;
}

/** `<state>/accessories/<name>`: the accessory's data folders, one per volume. Kept by `accessory down`. */
export function accessoryDataDir(stateDir: string, name: string): string {
  return `${accessoriesDir(stateDir)}/${name}`;
}

/** `<state>/accessories/<name>.env` (0600): env and secrets, KEY=VALUE per line. */
export function accessoryEnvFile(stateDir: string, name: string): string {
  return `${accessoriesDir(stateDir)}/${name}.env`;
}

/** The env file's text: `env`, then the secrets file's values (which win), one KEY=VALUE per line. */
export function accessoryEnvText(env: Record<string, string>, secrets: Record<string, string> = {}): string {
  const all = { ...env, ...secrets };
  return `${Object.entries(all)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/**
 * What the container is started with, as a short hash for a label: the image reference, command, port, volumes, stop
 * timeout and signal, and env file text. `accessory up` recreates the container when it differs. (The env file's values are in
 * the container's config anyway, visible to anyone who can `docker inspect` it; the hash adds nothing to that.)
 */
export function accessorySpec(a: AccessoryConfig, envText: string, reach?: string): string {
  const what = {
    image: a.image,
    cmd: a.cmd ?? null,
    port: a.port ?? null,
    publish: a.publish ?? null,
    volumes: a.volumes,
    stop: a.stopTimeoutSeconds,
    env: envText,
    // Only when set: the hash of an accessory started before the setting existed stays the same.
    ...(a.stopSignal ? { signal: a.stopSignal } : {}),
    // Only when set: an accessory no other host reaches keeps the hash it had before cross-host reach existed.
    ...(reach !== undefined ? { reach } : {}),
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

/** Creates the accessory's data folders (and the folder of its env file). Relative to the SSH user's home. */
export function makeAccessoryDirs(stateDir: string, a: AccessoryConfig): Command {
  const dirs = [accessoriesDir(stateDir), ...a.volumes.map((v) => `${accessoryDataDir(stateDir, a.name)}/${v.name}`)];
  return script('write', `create the folders of accessory ${a.name}`, 'mkdir -p "$@"', ...dirs);
}

/**
 * What the accessory's container is started with, after its name: the service network and the alias `<name>` (the
 * app, hooks and `exec` reach it by its name), `--restart unless-stopped` (it comes back after a reboot), its env file
 * and data folders. `reach`: the host's private address, where the hosts without the accessory reach its port
 * (config/accessory-reach.ts); published there only, not on every address of the host.
 */
function containerArgs(service: string, a: AccessoryConfig, stateDirAbs: string, spec: string, reach?: string): string[] {
  const argv = ['--network', names.network(service), '--network-alias', a.name];
  argv.push('--label', `${LABEL.service}=${service}`, '--label', `${LABEL.accessory}=${a.name}`, '--label', `${LABEL.accessorySpec}=${spec}`);
  argv.push('--restart', 'unless-stopped', '--stop-timeout', String(a.stopTimeoutSeconds));
  // On the container: docker stop and docker restart send it, whoever runs them (down, restart, a recreate, remove).
  if (a.stopSignal) argv.push('--stop-signal', a.stopSignal);
  argv.push('--env-file', accessoryEnvFile(stateDirAbs, a.name));
  if (a.publish !== undefined && a.port !== undefined) argv.push('-p', publishSpec(a.publish, a.port, a.port));
  if (reach !== undefined && a.port !== undefined && !coveredBy(a.publish, reach)) argv.push('-p', publishSpec(reach, a.port, a.port));
  for (const v of a.volumes) argv.push('-v', `${accessoryDataDir(stateDirAbs, a.name)}/${v.name}:${v.path}${v.readOnly ? ':ro' : ''}`);
  argv.push(a.image, ...(a.cmd ?? []));
  return argv;
}

/** Whether `publish` already binds `address` (the same one, or every address): a second -p would clash with it. */
function coveredBy(publish: string | undefined, address: string): boolean {
  return publish === address || publish === '0.0.0.0' || publish === '::';
}

/**
 * Starts the accessory. `--pull never`: its image was shipped from the deployer (a missing one fails at once, it is
 * never looked up in a registry).
 */
export function runAccessory(service: string, a: AccessoryConfig, stateDirAbs: string, spec: string, reach?: string): Command {
  const argv = ['docker', 'run', '-d', '--pull', 'never', '--name', names.accessory(service, a.name), ...containerArgs(service, a, stateDirAbs, spec, reach)];
  return { argv, why: `start accessory ${a.name} (${a.image})`, effect: 'write' };
}

/** Long enough for `docker stop -t <stop timeout>` (a database may take up to an hour to flush), plus a margin. */
function stopTimeoutMs(a: AccessoryConfig): number {
  return (a.stopTimeoutSeconds + 60) * 1000;
}

/** The names of a recreate: the accessory's own, the new container before it takes it, the old one until then. */
function recreateNames(service: string, name: string): [string, string, string] {
  const own = names.accessory(service, name);
  return [own, `${own}.next`, `${own}.old`];
}

/**
 * Recreate, step 1: the new container under a temporary name, not started, beside the running old one: a missing
 * image or a setting Docker refuses fails here, while the old one still runs. A leftover of an interrupted recreate
 * goes first.
 */
export function createAccessory(service: string, a: AccessoryConfig, stateDirAbs: string, spec: string, reach?: string): Command {
  const [, next] = recreateNames(service, a.name);
  return script(
    'write',
    `create the new container of accessory ${a.name} beside the old one (${a.image})`,
    'docker rm -f "$1" >/dev/null 2>&1; shift; exec "$@" >/dev/null',
    next,
    ...['docker', 'create', '--pull', 'never', '--name', next, ...containerArgs(service, a, stateDirAbs, spec, reach)],
  );
}

/**
 * Recreate, step 2: the old container stopped cleanly and set aside (kept until the new one runs), the new one
 * renamed to the accessory's name and started on the same data.
 */
export function swapAccessory(service: string, a: AccessoryConfig): Command {
  return {
    ...script(
      'write',
      `stop accessory ${a.name} (up to ${a.stopTimeoutSeconds}s to shut down) and start the new container in its place`,
      'docker stop -t "$4" "$1" >/dev/null && { docker rm -f "$3" >/dev/null 2>&1; docker rename "$1" "$3"; } && docker rename "$2" "$1" && docker start "$1" >/dev/null',
      ...recreateNames(service, a.name),
      String(a.stopTimeoutSeconds),
    ),
    timeoutMs: stopTimeoutMs(a),
  };
}

/** Recreate, step 3 (the new one runs): the old container removed. */
export function dropOldAccessory(service: string, name: string): Command {
  const [, , old] = recreateNames(service, name);
  return script('write', `remove the old container of accessory ${name}`, 'docker rm -f "$1" >/dev/null 2>&1 || true', old);
}

/** Recreate failed (the new one did not start or listen): the new container removed, the old one back and started. */
export function restoreOldAccessory(service: string, name: string): Command {
  return script(
    'write',
    `put the old container of accessory ${name} back and start it`,
    'docker rm -f "$2" >/dev/null 2>&1\nif docker container inspect "$3" >/dev/null 2>&1; then docker rm -f "$1" >/dev/null 2>&1; docker rename "$3" "$1" || exit 1; fi\ndocker start "$1" >/dev/null',
    ...recreateNames(service, name),
  );
}

export interface AccessoryState {
  exists: boolean;
  running: boolean;
  /** `.State.Status`: running, exited, restarting, created… */
  status?: string;
  /** The image reference it was started with. */
  image?: string;
  /** The ID of the image it runs. */
  imageId?: string;
  spec?: string;
}

/** One line of JSON about the accessory's container, or nothing when there is none. */
export function inspectAccessory(service: string, name: string): Command {
  return script(
    'read',
    `inspect accessory ${name}`,
    `docker container inspect --format '{"status":{{json .State.Status}},"running":{{.State.Running}},"image":{{json .Config.Image}},"imageId":{{json .Image}},"spec":{{json (index .Config.Labels "${LABEL.accessorySpec}")}}}' "$1" 2>/dev/null || true`,
    names.accessory(service, name),
  );
}

export function parseAccessoryState(text: string): AccessoryState {
  const line = text
    .trim()
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (!line) return { exists: false, running: false };
  const s = JSON.parse(line) as { status: string; running: boolean; image: string; imageId: string; spec: string | null };
  return { exists: true, running: s.running, status: s.status, image: s.image, imageId: s.imageId, ...(s.spec ? { spec: s.spec } : {}) };
}

/** The ID the host's engine has for an image reference (exit 1 when it has none). */
export function hostImageId(ref: string): Command {
  return command('read', `check for ${ref}`, 'docker', 'image', 'inspect', '--format', '{{.Id}}', ref);
}

export function startAccessory(service: string, name: string): Command {
  return command('write', `start accessory ${name}`, 'docker', 'start', names.accessory(service, name));
}

/**
 * docker restart: the container's stop signal (SIGTERM unless set), up to the stop timeout to shut down cleanly, then
 * the same container again (same data).
 */
export function restartAccessory(service: string, a: AccessoryConfig): Command {
  return {
    ...command('write', `restart accessory ${a.name}`, 'docker', 'restart', '-t', String(a.stopTimeoutSeconds), names.accessory(service, a.name)),
    timeoutMs: stopTimeoutMs(a),
  };
}

/**
 * Stops the container (its stop signal, up to the stop timeout: a database flushes its data) and removes it; nothing when
 * there is none. Its data folders stay.
 */
export function removeAccessoryContainer(service: string, a: AccessoryConfig): Command {
  return {
    ...script(
      'write',
      `stop and remove accessory ${a.name} (up to ${a.stopTimeoutSeconds}s to shut down)`,
      'docker container inspect "$1" >/dev/null 2>&1 || exit 0\ndocker stop -t "$2" "$1" >/dev/null && docker rm "$1" >/dev/null',
      names.accessory(service, a.name),
      String(a.stopTimeoutSeconds),
    ),
    timeoutMs: stopTimeoutMs(a),
  };
}

/** Removes the env file (it holds secrets) and, with `data`, the data folders. Paths relative to the home. */
export function removeAccessoryFiles(stateDir: string, name: string, data: boolean): Command {
  return data
    ? script(
        'write',
        `remove the env file and the DATA of accessory ${name}`,
        'rm -f "$1" && rm -rf "$2"',
        accessoryEnvFile(stateDir, name),
        accessoryDataDir(stateDir, name),
      )
    : script('write', `remove the env file of accessory ${name} (its data stays)`, 'rm -f "$1"', accessoryEnvFile(stateDir, name));
}

/** How long a started accessory may take until it listens on its port (a database's first start initialises it). */
const LISTEN_WAIT_SECONDS = 120;

/**
 * Waits until the container listens on `port`, read from its own sockets (/proc/<pid>/net/tcp and tcp6, state 0A),
 * so it works whatever the image holds (no shell, no client needed inside it). Fails at once if it exits, with its
 * exit code and last lines.
 */
export function waitListening(container: string, port: number, seconds = LISTEN_WAIT_SECONDS): Command {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return {
    ...script(
      'write',
      `wait until ${container} listens on port ${port} (up to ${seconds}s)`,
      [
        'name=$1 port=$2 hex=$3 limit=$4 i=0',
        'last() { docker logs --tail 20 "$name" 2>&1 | sed "s/^/  /" >&2; }',
        'while :; do',
        '  set -- $(docker inspect -f "{{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}" "$name" 2>/dev/null || echo "false ? 0")',
        '  if [ "$1" != true ]; then echo "$name exited with code $2 before it listened on port $port; its last lines:" >&2; last; exit 3; fi',
        '  if [ ! -r "/proc/$3/net/tcp" ]; then echo "cannot read the sockets of $name (/proc/$3/net/tcp): not waiting for port $port" >&2; exit 0; fi',
        '  cat "/proc/$3/net/tcp" "/proc/$3/net/tcp6" 2>/dev/null | awk -v p=":$hex" \'$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }\' && exit 0',
        '  i=$((i + 1)); [ "$i" -ge $((limit * 4)) ] && break',
        '  sleep 0.25',
        'done',
        'echo "$name does not listen on port $port after ${limit}s; its last lines:" >&2; last; exit 4',
      ].join('\n'),
      container,
      String(port),
      hex,
      String(seconds),
    ),
    timeoutMs: (seconds + 30) * 1000,
  };
}

/** Name and image of every accessory container of the service, one `name<TAB>image` line each (for pruning). */
export function listAccessoryImages(service: string): Command {
  return script(
    'read',
    `list the ${service} accessories`,
    `docker ps -a --filter "label=$1=$2" --filter "label=$3" --format '{{.Label "${LABEL.accessory}"}}\t{{.Image}}'`,
    LABEL.service,
    service,
    LABEL.accessory,
  );
}

export function parseAccessoryImages(text: string): { name: string; image: string }[] {
  return text
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((p): p is [string, string] => p.length === 2 && p[0] !== '' && p[1] !== '')
    .map(([name, image]) => ({ name, image }));
}
