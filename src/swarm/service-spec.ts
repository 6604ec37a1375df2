/**
 * The service's spec as `docker service create/update` flags: one description (ServiceSpec) gives both lines, so a
 * created service and an updated one cannot differ in policy. Separate from commands.ts because this is the part
 * with logic of its own (what an update drops, how env values stay out of argv).
 *
 * The service's environment (app.env, secrets, PORT) comes from the 0600 env file on the manager: the values never
 * appear in boxship's argv, plans or traces. `docker service update` has no --env-file, so a small script reads the
 * file on the manager and adds one `--env-add KEY=VALUE` per line there. Swarm keeps the values in the service spec
 * (its Raft store, `docker service inspect`), as it does for any service environment.
 */
import { type Command, script } from '../hosts/command.js';
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
