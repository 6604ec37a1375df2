/** Commands that start, check, stop and list instances (pure: they return Command data). */
import type { Config } from '../config/types.js';
import { type Command, command, script } from '../hosts/command.js';
import { HostError } from '../util/errors.js';
import { LABEL, names } from './names.js';
import type { Colour } from './plan.js';

export interface InstanceSpec {
  slot: number;
  tag: string;
  colour: Colour;
  /** Container name to start under (the live name for an empty slot, the incoming name otherwise). */
  name: string;
  /** Absolute state dir on the host (env file, volumes). */
  stateDirAbs: string;
  sha: string;
}

export function envFilePath(stateDirAbs: string): string {
  return `${stateDirAbs}/app.env`;
}

/**
 * `--pull never`: an image missing on the host must fail the start at once (missingImage explains it), never make the
 * host's engine look the name up on Docker Hub, where `hello:<sha>` could even resolve to someone else's image.
 */
export function runInstance(config: Config, spec: InstanceSpec): Command {
  const s = config.service;
  const argv = ['docker', 'run', '-d', '--pull', 'never', '--name', spec.name, '--network', names.network(s), '--network-alias', names.alias(s, spec.slot, spec.colour)];
  argv.push('--label', `${LABEL.service}=${s}`, '--label', `${LABEL.tag}=${spec.tag}`, '--label', `${LABEL.slot}=${spec.slot}`, '--label', `${LABEL.colour}=${spec.colour}`);
  argv.push('--restart', 'unless-stopped', '--stop-timeout', String(config.app.stopTimeoutSeconds));
  argv.push('--env-file', envFilePath(spec.stateDirAbs));
  argv.push('-e', `BOXSHIP_SHA=${spec.sha}`, '-e', `BOXSHIP_INSTANCE=${names.instance(s, spec.slot)}`);
  for (const v of config.app.volumes) argv.push('-v', `${spec.stateDirAbs}/volumes/${v.name}:${v.path}`);
  argv.push(names.image(s, spec.tag));
  return { argv, why: `start ${spec.name} (${spec.colour}) on ${spec.tag}` };
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

/** How often a starting instance is asked: every min(interval, 250 ms), within the budget retries x interval. */
export function healthPolling(intervalMs: number, retries: number): { stepMs: number; polls: number; budgetMs: number } {
  const stepMs = Math.min(intervalMs, 250);
  const budgetMs = retries * intervalMs;
  return { stepMs, polls: Math.max(1, Math.ceil(budgetMs / stepMs)), budgetMs };
}

/**
 * Waits, in one remote command, until the instance answers its health check through the proxy's network (the path
 * real traffic takes), failing fast with its logs if the container exits. A starting instance is polled more often
 * than `interval` (it is ready sooner), but is given no less time than retries x interval to become healthy.
 */
export function waitHealthy(config: Config, container: string, alias: string): Command {
  const h = config.healthcheck;
  const url = `http://${alias}:${h.port}${h.path}`;
  const { stepMs, polls, budgetMs } = healthPolling(h.intervalMs, h.retries);
  return script(
    `wait until ${container} passes ${h.path} (up to ${budgetMs / 1000}s)`,
    [
      'name=$1 proxy=$2 url=$3 tries=$4 interval=$5 timeout=$6 budget=$7 i=0',
      'while [ "$i" -lt "$tries" ]; do',
      '  [ "$(docker inspect -f "{{.State.Running}}" "$name" 2>/dev/null)" = true ] || { echo "$name stopped before it was healthy; its last output:" >&2; docker logs --tail 20 "$name" >&2 2>&1; exit 3; }',
      '  docker exec "$proxy" wget -q -O /dev/null -T "$timeout" "$url" 2>/dev/null && exit 0',
      '  i=$((i+1)); sleep "$interval"',
      'done',
      'echo "$url did not answer 2xx within ${budget}s; last output of $name:" >&2; docker logs --tail 20 "$name" >&2 2>&1; exit 4',
    ].join('\n'),
    container,
    names.proxy(config.service),
    url,
    String(polls),
    (stepMs / 1000).toString(),
    String(Math.max(1, Math.ceil(h.timeoutMs / 1000))),
    String(budgetMs / 1000),
  );
}

export function stopAndRemove(container: string, timeoutSeconds: number): Command {
  return script(`stop ${container} (letting in-flight requests finish) and remove it`, 'docker stop -t "$2" "$1" >/dev/null 2>&1; docker rm -f "$1" >/dev/null 2>&1; true', container, String(timeoutSeconds));
}

export function removeNow(container: string): Command {
  return script(`remove ${container}`, 'docker rm -f "$1" >/dev/null 2>&1; true', container);
}

export function rename(from: string, to: string): Command {
  return command(`rename ${from} to ${to}`, 'docker', 'rename', from, to);
}

/** One line per container of the service: name, labels and running state as JSON. */
export function listInstances(service: string): Command {
  return script(
    `list the ${service} instances`,
    `docker ps -aq --filter "label=$1=$2" | xargs -r docker inspect --format '{"name":{{json .Name}},"labels":{{json .Config.Labels}},"running":{{.State.Running}}}'`,
    LABEL.service,
    service,
  );
}

export interface InstanceInfo {
  name: string;
  tag: string;
  slot: number;
  colour: Colour;
  running: boolean;
}

export function parseInstances(text: string): InstanceInfo[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { name: string; labels: Record<string, string>; running: boolean })
    .map((c) => ({
      name: c.name.replace(/^\//, ''),
      tag: c.labels[LABEL.tag] ?? '',
      slot: Number(c.labels[LABEL.slot]),
      colour: (c.labels[LABEL.colour] === 'green' ? 'green' : 'blue') as Colour,
      running: c.running,
    }));
}
