/** The remote commands of `boxship logs` (pure: they return Command data, tested as exact command lines). */
import { type Command, script } from '../hosts/command.js';
import { proxyContainerName } from '../proxy/commands.js';
import { LABEL } from '../fleet/names.js';
import { shortSha } from '../util/short.js';

export interface LogSource {
  /** Container ID: stays the same when `hello-1.next` is renamed to `hello-1`. */
  id: string;
  /** What the line prefix says: `hello-1/blue`, or `proxy`. */
  label: string;
}

/**
 * The running containers to read: every instance of the service (labels dev.boxship.service and dev.boxship.slot, so no
 * accessory) and, with `proxy`, the service's Caddy. One line each: ID, slot, colour, name (tab-separated).
 */
export function listLogSources(service: string, proxy: boolean): Command {
  const fmt = `{{.ID}}\t{{.Label "${LABEL.slot}"}}\t{{.Label "${LABEL.colour}"}}\t{{.Names}}`;
  const body = [
    'docker ps --no-trunc --filter "label=$1=$2" --filter "label=$4" --format "$3"',
    ...(proxy ? ['docker ps --no-trunc --filter "name=^$5$" --format "$3"'] : []),
  ].join('\n');
  return script(
    'write',
    `list the running ${service} containers`,
    body,
    LABEL.service,
    service,
    fmt,
    LABEL.slot,
    ...(proxy ? [proxyContainerName(service)] : []),
  );
}

/** The running containers of one role (labels dev.boxship.service and dev.boxship.role), in the same format. */
export function listRoleLogSources(service: string, role: string): Command {
  const fmt = `{{.ID}}\t{{.Label "${LABEL.slot}"}}\t{{.Label "${LABEL.colour}"}}\t{{.Names}}`;
  return script(
    'read',
    `list the running ${service} ${role} containers`,
    'docker ps --no-trunc --filter "label=$1=$2" --filter "label=$3=$4" --format "$5"',
    LABEL.service,
    service,
    LABEL.role,
    role,
    fmt,
  );
}

/** One container by its exact name (an accessory's), in the same format; `all`: also when it is stopped. */
export function listNamedLogSource(container: string, all: boolean): Command {
  const fmt = `{{.ID}}\t{{.Label "${LABEL.slot}"}}\t{{.Label "${LABEL.colour}"}}\t{{.Names}}`;
  return script('read', `find the ${container} container`, `docker ps${all ? ' -a' : ''} --no-trunc --filter "name=^$1$" --format "$2"`, container, fmt);
}

export function parseLogSources(text: string, service: string): LogSource[] {
  const out: LogSource[] = [];
  for (const line of text.split('\n')) {
    const [id = '', slot = '', colour = '', name = ''] = line.split('\t');
    if (!/^[0-9a-f]{12,64}$/.test(id)) continue;
    const label = name === proxyContainerName(service) ? 'proxy' : slot ? `${service}-${slot}${colour ? `/${colour}` : ''}` : name;
    if (!out.some((s) => s.id === id)) out.push({ id, label });
  }
  return out;
}

export interface LogOptions {
  follow?: boolean;
  /** docker logs --since: a duration (10m, 1h30m) or a timestamp. */
  since?: string;
  /** docker logs --tail: the last N lines of each container; undefined: all. */
  lines?: number;
}

/**
 * `docker logs --timestamps` of one container, its stderr merged into stdout (the app's stderr is its log too). When
 * following, the command ends when the channel's stdin closes (the reader stopped or the connection dropped), so no
 * `docker logs -f` is left running on the host.
 */
export function containerLogs(id: string, o: LogOptions): Command {
  const argv = ['docker', 'logs', '--timestamps'];
  if (o.follow) argv.push('--follow');
  if (o.since !== undefined) argv.push('--since', o.since);
  if (o.lines !== undefined) argv.push('--tail', String(o.lines));
  argv.push(id);
  if (!o.follow) return script('read', `read the logs of ${shortSha(id)}`, '"$@" 2>&1', ...argv);
  // A background job's stdin is /dev/null unless redirected, hence fd 3: the watcher reads the channel's real stdin.
  return script(
    'write',
    `follow the logs of ${shortSha(id)}`,
    ['exec 3<&0', '"$@" 2>&1 <&- & p=$!', '(cat >/dev/null; kill "$p" 2>/dev/null) <&3 >/dev/null 2>&1 &', 'exec 3<&-', 'wait "$p"'].join('\n'),
    ...argv,
  );
}
