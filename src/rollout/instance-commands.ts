/** Commands that start, check, stop and list instances (pure: they return Command data). */
import { createHash } from 'node:crypto';
import { accessoryHostEntries } from '../config/accessory-reach.js';
import type { Config } from '../config/types.js';
import type { ProxySettings } from '../proxy/settings.js';
import { type Command, script, toShell } from '../hosts/command.js';
import { HostError } from '../util/errors.js';
import { LABEL, names } from '../fleet/names.js';
import { stateDir } from '../state/paths.js';
import type { Colour } from './plan.js';

export interface InstanceSpec {
  /** The host it runs on (HostConfig.name): which accessories it reaches on other hosts. */
  host: string;
  slot: number;
  tag: string;
  colour: Colour;
  /** Container name to start under (the live name for an empty slot, the incoming name otherwise). */
  name: string;
  /** Absolute state dir on the host (env file, volumes). */
  stateDirAbs: string;
  sha: string;
  /**
   * Restart policy: an incoming instance starts with `no`, so a host that reboots mid-move brings back only the
   * instances that served (never a `.next` beside them); handOver gives it `unless-stopped` with the slot's name.
   */
  restart: 'no' | 'unless-stopped';
  /** The settings this instance runs with when they are not the config's (an old colour during a settings change). */
  settings?: ProxySettings;
}

export function envFilePath(stateDirAbs: string): string {
  return `${stateDirAbs}/app.env`;
}

/**
 * `--pull never`: an image missing on the host must fail the start at once (missingImage explains it), never make the
 * host's engine look the name up on Docker Hub, where `hello:<sha>` could even resolve to someone else's image.
 */
/** `-v` arguments of the app's volumes (folders in the state dir), as instances and one-off containers mount them. */
export function volumeArgs(config: Config, stateDirAbs: string): string[] {
  return config.app.volumes.flatMap((v) => ['-v', `${stateDirAbs}/volumes/${v.name}:${v.path}${v.readOnly ? ':ro' : ''}`]);
}

/**
 * What an instance is started with that its release does not say and docker cannot change on a running container
 * (the stop signal), as a short hash for the `dev.boxship.spec` label; undefined when all of it is the default, so
 * instances started before these settings existed count as up to date.
 */
export function instanceSpec(config: Config): string | undefined {
  const what = { ...(config.app.stopSignal ? { stopSignal: config.app.stopSignal } : {}) };
  if (Object.keys(what).length === 0) return undefined;
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

/**
 * `--add-host <alias>:<address>` for each accessory the app's containers on `host` reach on another host (their own
 * host does not run it), so `<alias>:<port>` works there as on the service network. An /etc/hosts line, which also
 * wins over DNS: a host that runs the accessory must not get one (its instances use the network alias).
 */
export function accessoryHostArgs(config: Config, host: string): string[] {
  return accessoryHostEntries(config, host).flatMap((entry) => ['--add-host', entry]);
}

/** The value of the accessory-hosts label an instance on `host` should carry ('' when it needs none: no label). */
export function accessoryHostsLabel(config: Config, host: string): string {
  return accessoryHostEntries(config, host).join(',');
}

export function runInstance(config: Config, spec: InstanceSpec): Command {
  const s = config.service;
  const argv = [
    'docker',
    'run',
    '-d',
    '--pull',
    'never',
    '--name',
    spec.name,
    '--network',
    names.network(s),
    '--network-alias',
    names.alias(s, spec.slot, spec.colour),
  ];
  argv.push(
    '--label',
    `${LABEL.service}=${s}`,
    '--label',
    `${LABEL.tag}=${spec.tag}`,
    '--label',
    `${LABEL.slot}=${spec.slot}`,
    '--label',
    `${LABEL.colour}=${spec.colour}`,
  );
  const hash = instanceSpec(config);
  if (hash) argv.push('--label', `${LABEL.spec}=${hash}`);
  const reach = accessoryHostsLabel(config, spec.host);
  if (reach) argv.push('--label', `${LABEL.accessoryHosts}=${reach}`, ...accessoryHostArgs(config, spec.host));
  argv.push('--restart', spec.restart, '--stop-timeout', String(config.app.stopTimeoutSeconds));
  // Set on the container, so every docker stop of it (drain, rollback, remove, a reboot) sends it, and nothing that
  // stops it has to remember the setting.
  if (config.app.stopSignal) argv.push('--stop-signal', config.app.stopSignal);
  argv.push('--env-file', envFilePath(spec.stateDirAbs));
  argv.push('-e', `BOXSHIP_SHA=${spec.sha}`, '-e', `BOXSHIP_INSTANCE=${names.instance(s, spec.slot)}`);
  // The env file has the config's PORT; an instance of the old settings generation listens where the proxy dials it.
  if (spec.settings && spec.settings.appPort !== config.app.port) argv.push('-e', `PORT=${spec.settings.appPort}`);
  argv.push(...volumeArgs(config, spec.stateDirAbs));
  argv.push(names.image(s, spec.tag));
  return { argv, why: `start ${spec.name} (${spec.colour}) on ${spec.tag}`, effect: 'write' };
}

/** docker's answer to `run --pull never` of an image the engine lacks (20.10: "No such image: x"; 26 and later too). */
const NO_SUCH_IMAGE = /No such image|Unable to find image/i;

/**
 * A clear error for a start that failed because the host lacks the image, naming host and image; undefined when the
 * failure was something else.
 */
export function missingImage(host: string, image: string, stderr: string): HostError | undefined {
  if (!NO_SUCH_IMAGE.test(stderr)) return undefined;
  return new HostError(host, `image ${image} is not on the host (boxship never pulls: docker run --pull never)`, {
    hint: 'ship it first with: boxship release (or pick a release the host has: boxship releases)',
  });
}

/** How often a starting instance is asked: every min(interval, 250 ms), for at most retries x interval of wall time. */
export function healthPolling(intervalMs: number, retries: number, timeoutMs: number): { stepMs: number; budgetMs: number; probeSeconds: number } {
  return {
    stepMs: Math.min(intervalMs, 250),
    budgetMs: retries * intervalMs,
    // wget takes whole seconds; a probe never outlasts the configured timeout by more than the rounding.
    probeSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)),
  };
}

/**
 * Shell: the head of a wait for a starting container `$name` within `$budget` ms, as waitHealthy and a role's check
 * share it: `ms` (milliseconds from date +%s%N, GNU; a date without %N gives seconds, which only coarsens the
 * deadline), `why` (what the user needs when it fails: the app's first error line and its last lines), the deadline,
 * and the loop's first step, which fails at once (exit 3) when the container has exited. The caller's lines follow.
 */
export const WAIT_LOOP = [
  'ms() { t=$(date +%s%N); case $t in *N) echo $(( $(date +%s) * 1000 ));; *) echo $(( t / 1000000 ));; esac; }',
  'why() {',
  '  logs=$(docker logs --tail 300 "$name" 2>&1)',
  '  first=$(printf "%s\\n" "$logs" | grep -m1 -iE "error|exception|fatal|panic|traceback|refused|denied|cannot|failed" || true)',
  '  [ -n "$first" ] && printf "first error line: %s\\n" "$first" >&2',
  '  printf "last lines of %s:\\n" "$name" >&2; printf "%s\\n" "$logs" | tail -n 12 | sed "s/^/  /" >&2',
  '}',
  'end=$(( $(ms) + budget ))',
  'while :; do',
  '  state=$(docker inspect -f "{{.State.Running}} {{.State.ExitCode}}" "$name" 2>/dev/null || echo "false ?")',
  '  case $state in true*) ;; *) echo "$name exited with code ${state#* } before it was healthy" >&2; why; exit 3;; esac',
];

/** Exit codes of waitHealthy: what the orchestration tells the user. */
export const HEALTH_EXIT = { exited: 3, timedOut: 4 } as const;

/**
 * Waits, in one remote command, until the instance answers its health check through the proxy's network (the path
 * real traffic takes). A starting instance is polled more often than `interval` (it is ready sooner), for at most
 * retries x interval of wall time, as documented; it fails at once if the container exits. On failure it prints what
 * the user needs to see (not this script): the exit code, the app's first error line, and its last lines.
 */
export function waitHealthy(config: Config, container: string, alias: string, settings?: ProxySettings): Command {
  const h = config.healthcheck;
  const url = `http://${alias}:${settings?.healthPort ?? h.port}${settings?.healthPath ?? h.path}`;
  const { stepMs, budgetMs, probeSeconds } = healthPolling(h.intervalMs, h.retries, h.timeoutMs);
  const cmd = script(
    'write',
    `wait until ${container} passes ${settings?.healthPath ?? h.path} (up to ${budgetMs / 1000}s)`,
    [
      'name=$1 proxy=$2 url=$3 step=$4 probe=$5 budget=$6',
      ...WAIT_LOOP,
      // Without -q, wget says why a probe failed (GNU: "ERROR 503: …", "failed: Connection refused."; busybox:
      // "server returned error: HTTP/1.1 503 …"): its last line, less GNU's timestamp, is the last answer reported.
      '  out=$(docker exec "$proxy" wget -O /dev/null -T "$probe" "$url" 2>&1) && exit 0',
      '  last=$(printf "%s\\n" "$out" | grep -v -e "^ *$" -e "^Giving up" | tail -n 1 | sed -E "s/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} //")',
      '  [ "$(ms)" -ge "$end" ] && break',
      '  sleep "$step"',
      'done',
      'echo "$url did not answer 2xx within $((budget / 1000))s (last answer: ${last:-no answer})" >&2; why; exit 4',
    ].join('\n'),
    container,
    names.proxy(config.service),
    url,
    (stepMs / 1000).toString(),
    String(probeSeconds),
    String(budgetMs),
  );
  // The budget, one probe that started just before it ended, and the time to gather the logs.
  return { ...cmd, timeoutMs: budgetMs + probeSeconds * 1000 + 30_000 };
}

/**
 * After the incoming instance is healthy: the live one steps aside under its draining name, the incoming one takes
 * the slot's name and the restart policy. One round trip; the proxy config needs no change (it dials colour aliases).
 * `route`, if given, runs first in the same round trip (the proxy's marker that sends the slot's traffic to the
 * incoming colour).
 */
export function handOver(live: string, incoming: string, draining: string, route?: Command): Command {
  return script(
    'write',
    `hand ${live} over to ${incoming}`,
    `${route ? `${toShell(route)} && ` : ''}docker update --restart no "$1" >/dev/null && docker rename "$1" "$3" && docker rename "$2" "$1" && docker update --restart unless-stopped "$1" >/dev/null`,
    live,
    incoming,
    draining,
  );
}

/** Where a drain in progress leaves its marker (one file per container, holding the host's epoch second it ends by). */
export const drainMarkers = (service: string) => `${stateDir(service)}/draining`;

/**
 * Stops an old instance in the background ON THE HOST: its stop signal (set by runInstance), up to `seconds` to finish
 * in-flight requests, then removal. Detached from the SSH session, so the rollout goes on with the next slot, a
 * drain still completes when boxship is interrupted, and the command need not wait for it at all. The marker under
 * `markers` (written before the drain starts, removed when the container is gone) tells the next run, `status` and
 * converge.ts that this old instance is draining on purpose, and until when, rather than left by a cut-off run.
 */
export function startDrain(container: string, seconds: number, markers: string): Command {
  return script(
    'write',
    `drain ${container} in the background (up to ${seconds}s), then remove it`,
    'mkdir -p "$3" && echo $(( $(date +%s) + $2 )) > "$3/$1" && nohup sh -c \'docker stop -t "$2" "$1" >/dev/null 2>&1; docker rm -f "$1" >/dev/null 2>&1; rm -f "$3/$1"\' sh "$1" "$2" "$3" >/dev/null 2>&1 </dev/null &',
    container,
    String(seconds),
    markers,
  );
}

/** Waits until the draining containers are gone; after `seconds` (their stop timeout and a margin) removes them. */
export function waitDrained(containers: string[], seconds: number): Command {
  return {
    ...script(
      'write',
      `wait for ${containers.length} old instance(s) to finish draining (up to ${seconds}s)`,
      [
        'limit=$1; shift; i=0',
        'while :; do',
        '  left=; for c in "$@"; do docker container inspect "$c" >/dev/null 2>&1 && left="$left $c"; done',
        '  [ -z "$left" ] && exit 0',
        '  [ "$i" -ge $((limit * 4)) ] && break',
        '  i=$((i+1)); sleep 0.25',
        'done',
        'echo "still draining after ${limit}s, removed:$left" >&2; for c in $left; do docker rm -f "$c" >/dev/null 2>&1; done; exit 0',
      ].join('\n'),
      String(seconds),
      ...containers,
    ),
    timeoutMs: (seconds + 30) * 1000,
  };
}

export function removeNow(container: string): Command {
  return script('write', `remove ${container}`, 'docker rm -f "$1" >/dev/null 2>&1; true', container);
}

/**
 * The containers with labels $1=$2 and $3, one JSON line each (name, labels, running). A container removed between
 * `docker ps` and `docker inspect` (a drain finishing in the background, another deploy) makes inspect fail for the
 * whole list, so the pair is read again (up to 5 times, 0.2 s apart); a docker that keeps failing fails the listing
 * with its own message (a pipe into xargs would read as "no containers", and a rollout would start every slot anew).
 */
const INSPECT_LISTED = [
  `f='{"name":{{json .Name}},"labels":{{json .Config.Labels}},"running":{{.State.Running}}}'; out=''`,
  'for i in 1 2 3 4 5; do ids=$(docker ps -aq --filter "label=$1=$2" --filter "label=$3") || exit $?; [ -n "$ids" ] || { out=\'\'; break; }',
  'out=$(docker inspect --format "$f" $ids 2>/dev/null) && break',
  '[ "$i" -lt 5 ] || { docker inspect --format "$f" $ids >/dev/null || exit $?; echo "docker inspect kept failing on these containers" >&2; exit 1; }; sleep 0.2; done',
  '[ -z "$out" ] || printf \'%s\\n\' "$out"',
].join('; ');

/** One line per container of the service that carries `label` (its name, labels and running state, as JSON). */
export function listLabelled(service: string, label: string, why: string): Command {
  return script('read', why, `${INSPECT_LISTED}; true`, LABEL.service, service, label);
}

/**
 * One line per instance of the service (a container with a slot: not an accessory, not a role's), then one line per
 * drain marker (startDrain) with the seconds its drain has left by the host's clock (negative: overdue), so that a
 * deployer whose clock is off reads the same answer. A marker that does not hold a number is skipped. A docker that
 * fails fails the listing (a pipe into xargs would read as "no instances", and a rollout would start every slot anew).
 */
export function listInstances(service: string): Command {
  return script(
    'read',
    `list the ${service} instances`,
    `${INSPECT_LISTED}; now=$(date +%s); for f in "$4"/*; do [ -f "$f" ] || continue; u=$(cat "$f"); case "$u" in ''|*[!0-9]*) continue ;; esac; printf '{"draining":"%s","left":%s}\\n' "\${f##*/}" "$((u - now))"; done; true`,
    LABEL.service,
    service,
    LABEL.slot,
    drainMarkers(service),
  );
}

export interface InstanceInfo {
  name: string;
  tag: string;
  /** Its accessory-hosts label ('' without one). */
  accessoryHosts: string;
  slot: number;
  colour: Colour;
  running: boolean;
  /** Its `dev.boxship.spec` label (instanceSpec when it was started); absent: the defaults. */
  spec?: string;
  /** Draining on purpose (startDrain's marker): the seconds its drain has left by the host's clock, negative once overdue. */
  drainingFor?: number;
}

/** listLabelled's lines: each container's name (without docker's leading /), labels and running state. */
export function parseLabelled(text: string): { name: string; labels: Record<string, string>; running: boolean }[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { name: string; labels: Record<string, string>; running: boolean })
    .map((c) => ({ ...c, name: c.name.replace(/^\//, '') }));
}

export function parseInstances(text: string): InstanceInfo[] {
  const lines = text.split('\n').filter((l) => l.trim());
  const drains = new Map<string, number>();
  for (const l of lines) {
    const d = JSON.parse(l) as { draining?: string; left?: number };
    if (typeof d.draining === 'string' && typeof d.left === 'number') drains.set(d.draining, d.left);
  }
  return parseLabelled(lines.filter((l) => !l.startsWith('{"draining":')).join('\n')).map((c) => ({
    name: c.name,
    tag: c.labels[LABEL.tag] ?? '',
    accessoryHosts: c.labels[LABEL.accessoryHosts] ?? '',
    slot: Number(c.labels[LABEL.slot]),
    colour: (c.labels[LABEL.colour] === 'green' ? 'green' : 'blue') as Colour,
    running: c.running,
    ...(c.labels[LABEL.spec] ? { spec: c.labels[LABEL.spec] } : {}),
    ...(drains.has(c.name) ? { drainingFor: drains.get(c.name)! } : {}),
  }));
}
