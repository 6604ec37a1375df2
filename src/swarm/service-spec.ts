/**
 * The service's spec as `docker service create/update` flags: one description (ServiceSpec) gives both lines, so a
 * created service and an updated one cannot differ in policy. Separate from commands.ts because this is the part
 * with logic of its own (what an update drops, how env values stay out of argv, how a mount is quoted).
 *
 * The service's environment (app.env, secrets, PORT) comes from the 0600 env file on the manager, and no value is a
 * word of any command line there (not boxship's, not the docker CLI's: `ps` shows those to every user on the host).
 * `create` has --env-file: the CLI reads the file itself. `update` has none (Docker 20.10 to 26.1), so a small
 * script exports each line of the file and passes `--env-add NAME` without a value, which the CLI completes from its
 * own environment (opts.ValidateEnv), readable only by its user and root. Rejected: the Engine API over the socket
 * (needs curl or the like on the host and a second copy of the CLI's update logic: rolling policy, health, mounts),
 * Docker secrets (the app would read files, not env), a helper container (an image the host may not have). Swarm
 * keeps the values in the service spec (its Raft store, `docker service inspect`), as for any service environment.
 */
import type { StopSignal } from '../config/signal.js';
import { type Command, command, script } from '../hosts/command.js';
import { LABEL, shaOfTag } from '../fleet/names.js';
import { swarmNames } from './commands.js';

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
  /** app.stop_signal: what a task is stopped with (Swarm's docker stop); absent: the image's STOPSIGNAL. */
  stopSignal?: StopSignal;
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

/**
 * One field of --mount's CSV (Go's encoding/csv reads it): quoted when it has a comma, quote or line break or starts
 * with a space, inner quotes doubled. Unquoted, a target "/d,source=/" would add a second source= (the last wins) and
 * bind the host's / into every task. The config refuses such paths; this holds for any path that gets here.
 */
const csvField = (field: string) => (/[",\r\n]|^\s/.test(field) ? `"${field.replace(/"/g, '""')}"` : field);

const mountSpec = (m: Mount) => ['type=bind', `source=${m.source}`, `target=${m.target}`, ...(m.readOnly ? ['readonly'] : [])].map(csvField).join(',');

/** Env vars boxship sets itself (not from the env file). */
function releaseEnv(s: ServiceSpec): string[] {
  return [`BOXSHIP_SHA=${shaOfTag(s.tag)}`, 'BOXSHIP_INSTANCE={{.Service.Name}}.{{.Task.Slot}}'];
}

/**
 * `docker service update` runs as `docker <argv> --env-add NAME... <service>`, each NAME exported from the env file:
 * the values reach the CLI through its environment, never its argv. The script's own variables are DOCKER_BOXSHIP_*
 * (a line DOCKER_* is refused: it would steer the CLI itself, DOCKER_HOST above all), so no line can overwrite
 * them; the CLI is found before the app's PATH applies, and DOCKER_CONFIG is pinned before the app's HOME does.
 */
const UPDATE_WITH_ENV = [
  'DOCKER_BOXSHIP_FILE=$1; DOCKER_BOXSHIP_LAST=$2; shift 2',
  'DOCKER_BOXSHIP_CLI=$(command -v "$1") || { echo "$1: command not found" >&2; exit 127; }; shift',
  'export DOCKER_CONFIG="${DOCKER_CONFIG:-$HOME/.docker}"',
  'while IFS= read -r DOCKER_BOXSHIP_KV || [ -n "$DOCKER_BOXSHIP_KV" ]; do',
  '  case $DOCKER_BOXSHIP_KV in',
  '    DOCKER_*) echo "${DOCKER_BOXSHIP_KV%%=*} in $DOCKER_BOXSHIP_FILE: a DOCKER_* variable would steer the docker CLI that updates the service; rename it" >&2; exit 2 ;;',
  '    *=*) export "$DOCKER_BOXSHIP_KV" || exit 2; set -- "$@" --env-add "${DOCKER_BOXSHIP_KV%%=*}" ;;',
  '  esac',
  'done < "$DOCKER_BOXSHIP_FILE"',
  'exec "$DOCKER_BOXSHIP_CLI" "$@" "$DOCKER_BOXSHIP_LAST"',
].join('\n');

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
    ...(s.stopSignal ? ['--stop-signal', s.stopSignal] : []),
    ...s.constraints.flatMap((c) => ['--constraint', c]),
    ...s.mounts.flatMap((m) => ['--mount', mountSpec(m)]),
    ...releaseEnv(s).flatMap((e) => ['--env', e]),
    '--env-file',
    envFile,
    s.image,
  ];
  return command('write', `create the service ${s.name} with ${s.image}`, ...argv);
}

/** What the running spec has that the wanted one may drop. */
export interface CurrentSpec {
  envKeys: string[];
  constraints: string[];
  mountTargets: string[];
  image: string;
  /** The tasks' stop signal, when the service has one. */
  stopSignal?: string;
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
    ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
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
      ContainerSpec?: { Image?: string; StopSignal?: string; Env?: string[]; Mounts?: { Target?: string }[]; Healthcheck?: { Test?: string[] } };
      Placement?: { Constraints?: string[] };
    };
    Mode?: { Replicated?: { Replicas?: number } };
  };
  UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
}

const normalise = (c: string) => c.replace(/\s+/g, '');

/**
 * `docker service update` to the wanted spec: the image (never resolved against a registry), the policy, the stop
 * signal, and the differences in constraints, mounts and env keys; the env values again from the env file (UPDATE_WITH_ENV).
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
    // A signal taken out of boxship.yml is cleared (an empty --stop-signal), back to the image's own.
    ...(s.stopSignal || current.stopSignal ? ['--stop-signal', s.stopSignal ?? ''] : []),
    ...[...haveC].filter((c) => !wantC.has(c)).flatMap((c) => ['--constraint-rm', c]),
    ...[...wantC].filter((c) => !haveC.has(c)).flatMap((c) => ['--constraint-add', c]),
    ...current.mountTargets.filter((t) => !s.mounts.some((m) => m.target === t)).flatMap((t) => ['--mount-rm', t]),
    ...s.mounts.flatMap((m) => ['--mount-add', mountSpec(m)]),
    ...[...new Set(current.envKeys)].filter((k) => !keep.has(k)).flatMap((k) => ['--env-rm', k]),
    ...releaseEnv(s).flatMap((e) => ['--env-add', e]),
  ];
  return script('write', `update the service ${s.name} to ${s.image}`, UPDATE_WITH_ENV, envFile, s.name, ...argv);
}
