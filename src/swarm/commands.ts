/**
 * Remote commands of the Swarm backend, as data (see hosts/command.ts): argv built by pure functions, so the exact
 * `docker service create/update` lines are unit-tested.
 *
 * The service's environment (app.env, secrets, PORT) comes from the 0600 env file on the manager: the values never
 * appear in boxship's argv, plans or traces. `docker service update` has no --env-file, so a small script reads the
 * file on the manager and adds one `--env-add KEY=VALUE` per line there. Swarm keeps the values in the service spec
 * (its Raft store, `docker service inspect`), as it does for any service environment.
 */
import { type Command, command, script } from '../hosts/command.js';
import { LABEL, shaOfTag } from '../fleet/names.js';

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

interface Mount {
  /** Absolute folder on every node. */
  source: string;
  target: string;
  readOnly: boolean;
}

/** What a service should look like; create and update are built from the same description. */
export interface ServiceSpec {
  /** The Swarm service's name (the service, or its canary). */
  name: string;
  /** `<service>` of boxship.yml: labels, network and upstream alias. */
  service: string;
  image: string;
  /** The release tag; its git sha is passed to the app as BOXSHIP_SHA. */
  tag: string;
  replicas: number;
  constraints: string[];
  /** Flags from healthFlags(). */
  health: string[];
  monitorSeconds: number;
  stopGraceSeconds: number;
  mounts: Mount[];
}

/** What create and update have in common: rolling updates one task at a time, start-first, rolled back on failure. */
function policyFlags(s: ServiceSpec): string[] {
  return [
    '--replicas',
    String(s.replicas),
    '--update-parallelism',
    '1',
    '--update-order',
    'start-first',
    '--update-failure-action',
    'rollback',
    '--update-monitor',
    `${s.monitorSeconds}s`,
    '--update-max-failure-ratio',
    '0',
    '--update-delay',
    '0s',
    '--rollback-parallelism',
    '1',
    '--rollback-order',
    'start-first',
    '--rollback-failure-action',
    'pause',
    '--rollback-monitor',
    `${s.monitorSeconds}s`,
    '--stop-grace-period',
    `${s.stopGraceSeconds}s`,
    ...s.health,
  ];
}

const mountSpec = (m: Mount) => `type=bind,source=${m.source},target=${m.target}${m.readOnly ? ',readonly' : ''}`;

/** Env vars boxship sets itself (not from the env file). */
function releaseEnv(s: ServiceSpec): string[] {
  return [`BOXSHIP_SHA=${shaOfTag(s.tag)}`, 'BOXSHIP_INSTANCE={{.Service.Name}}.{{.Task.Slot}}'];
}

/**
 * Runs `docker <argv> <last>` with one `<flag> KEY=VALUE` per line of the env file added on the host, so the
 * values stay out of this command line.
 */
function withEnvFile(why: string, envFile: string, flag: '--env' | '--env-add', last: string, argv: string[]): Command {
  return script(
    'write',
    why,
    [
      'f=$1; flag=$2; last=$3; shift 3',
      'while IFS= read -r kv || [ -n "$kv" ]; do if [ -n "$kv" ]; then set -- "$@" "$flag" "$kv"; fi; done < "$f"',
      'exec "$@" "$last"',
    ].join('\n'),
    envFile,
    flag,
    last,
    ...argv,
  );
}

/** `docker service create` of the service on the overlay network (dnsrr: no VIP, no routing mesh, no published port). */
export function createService(s: ServiceSpec, envFile: string): Command {
  const argv = [
    'docker',
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--name',
    s.name,
    '--label',
    `${LABEL.service}=${s.service}`,
    '--endpoint-mode',
    'dnsrr',
    '--network',
    `name=${swarmNames.network(s.service)},alias=${swarmNames.upstream(s.service)}`,
    ...policyFlags(s),
    ...s.constraints.flatMap((c) => ['--constraint', c]),
    ...s.mounts.flatMap((m) => ['--mount', mountSpec(m)]),
    ...releaseEnv(s).flatMap((e) => ['--env', e]),
  ];
  return withEnvFile(`create the service ${s.name} with ${s.image}`, envFile, '--env', s.image, argv);
}

/** What the running spec has that the wanted one may drop. */
export interface CurrentSpec {
  envKeys: string[];
  constraints: string[];
  mountTargets: string[];
  image: string;
}

/** Parses one service of `docker service inspect` (the array's first entry), or undefined when there is none. */
export function parseServiceSpec(
  text: string,
): (CurrentSpec & { replicas: number; updateState?: string; updateMessage?: string; updateStartedAt?: string; healthcheck?: string[] }) | undefined {
  const data = JSON.parse(text.trim() || '[]') as ServiceInspect[];
  const svc = data[0];
  if (!svc) return undefined;
  const c = svc.Spec?.TaskTemplate?.ContainerSpec ?? {};
  return {
    image: c.Image ?? '',
    envKeys: (c.Env ?? []).map((e) => e.split('=')[0]!),
    constraints: svc.Spec?.TaskTemplate?.Placement?.Constraints ?? [],
    mountTargets: (c.Mounts ?? []).map((m) => m.Target ?? '').filter(Boolean),
    replicas: svc.Spec?.Mode?.Replicated?.Replicas ?? 0,
    ...(svc.UpdateStatus?.State ? { updateState: svc.UpdateStatus.State } : {}),
    ...(svc.UpdateStatus?.Message ? { updateMessage: svc.UpdateStatus.Message } : {}),
    ...(svc.UpdateStatus?.StartedAt ? { updateStartedAt: svc.UpdateStatus.StartedAt } : {}),
    ...(c.Healthcheck?.Test ? { healthcheck: c.Healthcheck.Test } : {}),
  };
}

interface ServiceInspect {
  Spec?: {
    TaskTemplate?: {
      ContainerSpec?: { Image?: string; Env?: string[]; Mounts?: { Target?: string }[]; Healthcheck?: { Test?: string[] } };
      Placement?: { Constraints?: string[] };
    };
    Mode?: { Replicated?: { Replicas?: number } };
  };
  UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
}

const normalise = (c: string) => c.replace(/\s+/g, '');

/**
 * `docker service update` to the wanted spec: the image (never resolved against a registry), the policy, and the
 * differences in constraints, mounts and env keys; the env values again from the env file.
 */
export function updateService(s: ServiceSpec, current: CurrentSpec, envFile: string, envKeys: string[]): Command {
  const wantC = new Set(s.constraints.map(normalise));
  const haveC = new Set(current.constraints.map(normalise));
  const keep = new Set([...envKeys, 'BOXSHIP_SHA', 'BOXSHIP_INSTANCE']);
  const argv = [
    'docker',
    'service',
    'update',
    '--detach',
    '--no-resolve-image',
    '--image',
    s.image,
    ...policyFlags(s),
    ...[...haveC].filter((c) => !wantC.has(c)).flatMap((c) => ['--constraint-rm', c]),
    ...[...wantC].filter((c) => !haveC.has(c)).flatMap((c) => ['--constraint-add', c]),
    ...current.mountTargets.filter((t) => !s.mounts.some((m) => m.target === t)).flatMap((t) => ['--mount-rm', t]),
    ...s.mounts.flatMap((m) => ['--mount-add', mountSpec(m)]),
    ...[...new Set(current.envKeys)].filter((k) => !keep.has(k)).flatMap((k) => ['--env-rm', k]),
    ...releaseEnv(s).flatMap((e) => ['--env-add', e]),
  ];
  return withEnvFile(`update the service ${s.name} to ${s.image}`, envFile, '--env-add', s.name, argv);
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
