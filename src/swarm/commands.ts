/**
 * Remote commands of the Swarm backend that read the swarm and its tasks, or manage networks and services by name,
 * as data (see hosts/command.ts): argv built by pure functions, so the exact lines are unit-tested. The service's
 * own spec (create and update) is in service-spec.ts.
 */
import { type Command, command, script } from '../hosts/command.js';

/** Names of what the Swarm backend creates. */
export const swarmNames = {
  /** The overlay network (attachable, so that the per-node proxy containers can join it). */
  network: (service: string) => `boxship-${service}`,
  /** The DNS name the proxies resolve: an alias every task of the service (and of its canary) has on the network. */
  upstream: (service: string) => `${service}-upstream`,
  canary: (service: string) => `${service}-canary`,
};

/** What the engine behind an SSH address says about its swarm membership. */
export function engineSwarm(): Command {
  return command('read', 'read the swarm state of the engine', 'docker', 'info', '--format', '{{json .Swarm}}');
}

/** Every node of the swarm as a JSON array (manager only). */
export function inspectNodes(): Command {
  return script('read', 'list the swarm nodes', 'docker node ls -q | xargs -r docker node inspect');
}

/**
 * Creates the overlay network once, on the manager. A network of that name with another driver (the per-host
 * backend's bridge network, left from before) is an error: tasks and proxies would not meet on it.
 */
export function ensureOverlayNetwork(network: string): Command {
  return script(
    'write',
    `create the overlay network ${network}`,
    [
      'd=$(docker network inspect --format "{{.Driver}}" "$1" 2>/dev/null || true)',
      'if [ -z "$d" ]; then docker network create --driver overlay --attachable "$1" >/dev/null; exit 0; fi',
      '[ "$d" = overlay ] && exit 0',
      'echo "a network named $1 exists with driver $d, not overlay: remove it (docker network rm $1) once nothing uses it" >&2; exit 1',
    ].join('\n'),
    network,
  );
}

/** On a node: fails when a local (non-overlay) network of that name would shadow the overlay for `docker run`. */
export function checkNoLocalNetwork(network: string): Command {
  return script(
    'read',
    `check that no local network shadows ${network}`,
    'd=$(docker network inspect --format "{{.Driver}}" "$1" 2>/dev/null || true); if [ -n "$d" ] && [ "$d" != overlay ]; then echo "a local network named $1 (driver $d) shadows the overlay network: remove it (docker network rm $1) once nothing uses it" >&2; exit 1; fi',
    network,
  );
}

/** `docker service inspect` of the service as a JSON array, `[]` when there is none. */
export function inspectService(name: string): Command {
  return script('read', `read the service ${name}`, 'out=$(docker service inspect "$1" 2>/dev/null) && printf "%s\\n" "$out" || echo "[]"', name);
}

/** Every task of the service (history included), one JSON object per line. */
export function serviceTasks(name: string): Command {
  return script('read', `list the tasks of ${name}`, 'docker service ps "$1" --no-trunc --format "{{json .}}" 2>/dev/null || true', name);
}

export function removeService(name: string): Command {
  return script('write', `remove the service ${name}`, 'docker service rm "$1" >/dev/null 2>&1 || true', name);
}

/** The image's own HEALTHCHECK (JSON, `null` when it has none). */
export function imageHealthcheckOf(ref: string): Command {
  return command('read', `read the HEALTHCHECK of ${ref}`, 'docker', 'image', 'inspect', '--format', '{{json .Config.Healthcheck}}', ref);
}

/**
 * Which HTTP client the image has, for a derived health check: a throwaway container (no network, never pulled)
 * prints the first of curl, wget, node, python3 found on its PATH; no output (or a failure: no /bin/sh) means none.
 */
export function probeTools(ref: string): Command {
  return command(
    'read',
    `look for an HTTP client in ${ref} (for a health check)`,
    'docker',
    'run',
    '--rm',
    '--pull',
    'never',
    '--network',
    'none',
    '--entrypoint',
    '/bin/sh',
    ref,
    '-c',
    'for t in curl wget node python3; do if command -v "$t" >/dev/null 2>&1; then echo "$t"; exit 0; fi; done; exit 0',
  );
}

/**
 * The running task containers of every swarm service on one node: `<task name>\t<image>\t<status>\t<service>` per
 * line (parseNodeTasks keeps the services asked for; docker ps ANDs label filters, so one filter on the key).
 */
export function nodeTasks(): Command {
  return command(
    'read',
    'list the service tasks on this node',
    'docker',
    'ps',
    '--filter',
    'label=com.docker.swarm.service.name',
    '--format',
    '{{.Label "com.docker.swarm.task.name"}}\t{{.Image}}\t{{.Status}}\t{{.Label "com.docker.swarm.service.name"}}',
  );
}

/** One task of `docker service ps --format '{{json .}}'`. */
export interface TaskRow {
  id: string;
  name: string;
  image: string;
  node: string;
  desired: string;
  /** e.g. "Running 5 seconds ago", "Failed 2 seconds ago" */
  current: string;
  error: string;
}

export function parseTasks(text: string): TaskRow[] {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, string>)
    .map((t) => ({
      id: t.ID ?? '',
      name: t.Name ?? '',
      image: t.Image ?? '',
      node: t.Node ?? '',
      desired: t.DesiredState ?? '',
      current: t.CurrentState ?? '',
      error: t.Error ?? '',
    }));
}

/** One task container on a node (nodeTasks). */
export interface NodeTask {
  task: string;
  image: string;
  status: string;
  service: string;
  health: 'healthy' | 'unhealthy' | 'starting' | 'no check';
}

export function parseNodeTasks(text: string, services: string[]): NodeTask[] {
  return (
    text
      .split('\n')
      .filter((l) => l.trim() && services.includes(l.split('\t')[3] ?? ''))
      .map((l) => {
        const [task = '', image = '', status = '', service = ''] = l.split('\t');
        const health = /\(healthy\)/.test(status)
          ? 'healthy'
          : /\(unhealthy\)/.test(status)
            ? 'unhealthy'
            : /\(health: starting\)/.test(status)
              ? 'starting'
              : 'no check';
        // Task names carry the task ID after the slot (hello.2.<id>): keep service.slot.
        return { task: task.split('.').slice(0, 2).join('.'), image, status, service, health } as NodeTask;
      })
      // The service's tasks first, then the canary's; by slot number within each.
      .sort((a, b) => services.indexOf(a.service) - services.indexOf(b.service) || Number(a.task.split('.')[1]) - Number(b.task.split('.')[1]))
  );
}
