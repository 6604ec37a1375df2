/**
 * Remote commands for the per-host proxy container, as data (see hosts/command.ts).
 *
 * The container runs two Caddy processes (edge-config.ts): the edge on port 80, and the router that caddy.json
 * configures, on loopback behind it; a small sh supervisor (PROXY_SUPERVISOR) is its main process.
 *
 * The host folder holding caddy.json and edge.json is mounted read-only at /etc/boxship: the folder, not the file, so that the
 * atomic rename done by writeProxyConfig is seen inside the container (a bind-mounted file keeps pointing at the old
 * inode). Inside the proxy container boxship only ever runs `caddy ...` and `wget -q -O <file> -T <s> <url>`, which
 * work in boxship-proxy (Debian, GNU wget) and in the stock caddy:2 image (alpine, busybox wget) alike.
 */
import { type Command, command, script } from '../hosts/command.js';
import { CADDY_CONFIG_DIR, CADDY_CONFIG_PATH, MAINTENANCE_DIR, MAINTENANCE_FILES, type ProxyMode, maintenanceFiles } from './caddy-answers.js';
import { type Colour, LIVE_DIR, PROXY_ADMIN_LISTEN, PROXY_CONTAINER_PORT } from './caddy-config.js';
import { EDGE_DIR, EDGE_VOLUME, routerSocketDir } from '../edge/layout.js';
import { EDGE_ADMIN_LISTEN, EDGE_CHOICE_FILE, EDGE_CONFIG_FILES, PROXY_LAYOUT, PROXY_LAYOUT_LABEL, pickBySyntax } from './edge-config.js';

export function proxyContainerName(service: string): string {
  return `${service}-proxy`;
}

/** Folder on the host (under the service's state dir) that is mounted into the proxy as /etc/boxship. */
export function proxyHostDir(stateDir: string): string {
  return `${stateDir}/proxy`;
}

/** A config file in the proxy dir: the router's caddy.json by default, or one of the edge's (EDGE_CONFIG_FILES). */
export function proxyHostConfigFile(hostDir: string, file = 'caddy.json'): string {
  return `${hostDir}/${file}`;
}

/**
 * Writes a proxy config file on the host atomically; run it with the config text (caddyConfigText, edgeConfigText)
 * on stdin. The running proxy does not see the new file until reloadProxy (router) or reloadEdge (edge).
 */
export function writeProxyConfig(hostDir: string, file?: string): Command {
  return script(
    'write',
    file ? `write the proxy config ${file}` : 'write the proxy config',
    'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"',
    proxyHostConfigFile(hostDir, file),
  );
}

/**
 * Routes a slot's traffic to `colour` from the proxy's next request on (see caddy-config.ts): creates or removes the
 * slot's marker file. No reload; the old colour gets no new request, so it can be stopped without a request meeting it.
 */
export function setLiveColour(hostDir: string, slot: number, colour: Colour): Command {
  return script(
    'write',
    `route slot ${slot} of the proxy to ${colour}`,
    `mkdir -p "$1/${LIVE_DIR}" && case "$3" in green) : > "$1/${LIVE_DIR}/$2-green";; *) rm -f "$1/${LIVE_DIR}/$2-green";; esac`,
    hostDir,
    String(slot),
    colour,
  );
}

/**
 * Sets the marker of every slot 1..instances to the colour of the container holding the slot's name (`<service>-<n>`),
 * blue for an empty slot (the colour it starts with): on a host whose proxy predates the markers, or whose markers a
 * cut-off run left behind. Each marker is set on its own, so a slot that is right is never flipped, even briefly.
 */
export function syncLiveColours(service: string, hostDir: string, instances: number, labels: { service: string; colour: string }): Command {
  return script(
    'write',
    'route each slot of the proxy to the colour of its instance',
    [
      `mkdir -p "$1/${LIVE_DIR}"`,
      `list=$(docker ps -a --filter "label=${labels.service}=$2" --format '{{.Names}} {{.Label "${labels.colour}"}}')`,
      'n=1',
      'while [ "$n" -le "$3" ]; do',
      '  colour=$(printf "%s\\n" "$list" | awk -v want="$2-$n" \'$1 == want { print $2 }\')',
      `  if [ "$colour" = green ]; then : > "$1/${LIVE_DIR}/$n-green"; else rm -f "$1/${LIVE_DIR}/$n-green"; fi`,
      '  n=$((n + 1))',
      'done',
    ].join('\n'),
    hostDir,
    service,
    String(instances),
  );
}

/**
 * Puts the proxy in or out of maintenance without touching its config: on writes the answer's parts, then the switch
 * file (each atomically, so a request never sees half a message); off removes the switch. Caddy checks the switch per
 * request, so no reload happens and no keep-alive client connection is closed.
 */
export function applyProxyMode(hostDir: string, mode: ProxyMode): Command {
  const dir = `${hostDir}/${MAINTENANCE_DIR}`;
  if (mode.kind === 'serving') return script('write', 'take the proxy out of maintenance', `rm -f "$1/${MAINTENANCE_FILES.on}"`, dir);
  const f = maintenanceFiles(mode);
  const put = (n: number, file: string) => `printf %s "$${n}" > "$1/${file}.tmp" && mv "$1/${file}.tmp" "$1/${file}"`;
  return script(
    'write',
    `put the proxy in maintenance (Retry-After: ${f.retryAfter})`,
    [
      'mkdir -p "$1"',
      put(2, MAINTENANCE_FILES.retryAfter),
      put(3, MAINTENANCE_FILES.text),
      put(4, MAINTENANCE_FILES.json),
      `: > "$1/${MAINTENANCE_FILES.on}"`,
    ].join(' && '),
    dir,
    f.retryAfter,
    f.text,
    f.json,
  );
}

export interface StartProxyOptions {
  service: string;
  network: string;
  image: string;
  /** Host address the port is published on (proxy.bind). */
  bind: string;
  /** Host port (proxy.port); absent: none published (the server's edge reaches the router through its socket). */
  port?: number;
  /** proxy.hosts: the edge's volume is mounted, where the router listens on the service's edge socket. */
  edge?: boolean;
  /** Host folder holding caddy.json; may be relative to the SSH user's home (as state dirs are). */
  hostDir: string;
}

/** `-p` value; an IPv6 bind address needs brackets. */
export function publishSpec(bind: string, port: number, containerPort: number = PROXY_CONTAINER_PORT): string {
  const addr = bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
  return `${addr}:${port}:${containerPort}`;
}

/**
 * The proxy container's main process: picks the edge config its Caddy reads (edge-config.ts EdgeSyntax: the Debian
 * build says `2.6.2`, official builds `v2.11.4 h1:...`), starts the router, then the edge, and stops both
 * (gracefully: each finishes the requests it has) on SIGTERM. If either exits on its own the container exits non-zero, so that Docker's restart
 * policy brings back both: a container must never go on running half a proxy. POSIX sh, so it runs in
 * boxship-proxy (Debian dash) and in caddy:2 (alpine busybox) alike; `sleep & wait` lets the trap run at once.
 */
export const PROXY_SUPERVISOR = [
  // The router's socket for the server's edge lives in the edge's volume (mounted with proxy.hosts); harmless without it.
  `mkdir -p ${routerSocketDir}`,
  pickBySyntax('e', {
    'caddy-2.6': `${CADDY_CONFIG_DIR}/${EDGE_CONFIG_FILES['caddy-2.6']}`,
    'caddy-2.7+': `${CADDY_CONFIG_DIR}/${EDGE_CONFIG_FILES['caddy-2.7+']}`,
  }),
  `echo "$e" > ${EDGE_CHOICE_FILE}`,
  `caddy run --config ${CADDY_CONFIG_PATH} & router=$!`,
  'caddy run --config "$e" & edge=$!',
  "trap 'kill -TERM $edge $router 2>/dev/null; wait; exit 0' TERM INT",
  'while kill -0 $edge 2>/dev/null && kill -0 $router 2>/dev/null; do sleep 1 & wait $!; done',
  'echo "boxship proxy: a caddy process exited; stopping the container so that Docker restarts both" >&2',
  'kill -TERM $edge $router 2>/dev/null; wait; exit 1',
].join('\n');

/**
 * Starts the proxy container. Both config files must already be on the host. docker run needs an absolute folder for a
 * bind mount (a relative one would be taken for a volume name), so the folder is resolved on the host first.
 * `--pull never`: the image is shipped (or pulled explicitly by ensureProxyImage) beforehand; a run must never turn
 * into a registry lookup.
 */
export function startProxy(o: StartProxyOptions): Command {
  return script(
    'write',
    o.port === undefined ? 'start the proxy (for the edge only, no port published)' : `start the proxy on ${o.bind}:${o.port}`,
    [
      'set -e',
      'dir=$(cd "$1" && pwd -P)',
      'name=$2 network=$3 layout=$4 image=$5 supervisor=$6',
      // What follows the six: the -p and -v options this proxy has (none, either or both).
      'shift 6',
      `exec docker run -d --pull never --name "$name" --network "$network" --restart unless-stopped --label ${PROXY_LAYOUT_LABEL}="$layout" "$@" -v "$dir:${CADDY_CONFIG_DIR}:ro" --entrypoint /bin/sh "$image" -c "$supervisor"`,
    ].join('\n'),
    o.hostDir,
    proxyContainerName(o.service),
    o.network,
    proxyLayout(o.edge ?? false),
    o.image,
    PROXY_SUPERVISOR,
    ...(o.port !== undefined ? ['-p', publishSpec(o.bind, o.port)] : []),
    ...(o.edge ? ['-v', `${EDGE_VOLUME}:${EDGE_DIR}`] : []),
  );
}

/**
 * Makes the running proxy load the config file. Caddy compares it with the running config and does nothing when it
 * is unchanged; any change is a full reload, which resets some client keep-alive connections, so this is for
 * proxy setting changes only: never part of an instance swap or of maintenance mode (both are marker files).
 */
export function reloadProxy(service: string): Command {
  return command('write', 'reload the proxy config', 'docker', 'exec', proxyContainerName(service), 'caddy', 'reload', '--config', CADDY_CONFIG_PATH);
}

/** Makes the edge load its config file (after it was rewritten): through the edge's own admin address. */
export function reloadEdge(service: string): Command {
  return command(
    'write',
    'reload the proxy edge config',
    'docker',
    'exec',
    proxyContainerName(service),
    'sh',
    '-c',
    `caddy reload --config "$(cat ${EDGE_CHOICE_FILE})" --address ${EDGE_ADMIN_LISTEN}`,
  );
}

/** Whole seconds for wget -T, at least 1. */
function wgetSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Asks an upstream (a network alias such as `hello-1-green`) for `path` from inside the proxy container, i.e. over
 * the same network path Caddy uses. Exits 0 only for a 2xx answer within the timeout.
 */
export function probeUpstream(service: string, alias: string, port: number, path: string, timeoutMs: number): Command {
  return wgetInProxy(`check that ${alias} answers through the proxy network`, service, '/dev/null', wgetSeconds(timeoutMs), `http://${alias}:${port}${path}`);
}

/**
 * `wget` inside the proxy container: the only client both boxship-proxy and caddy:2 (busybox) have. A write for a
 * plan's sake: what it probes (a new instance) exists only in a real run, so a dry run records it as passing.
 */
function wgetInProxy(why: string, service: string, output: string, timeoutSeconds: string, url: string): Command {
  return command('write', why, 'docker', 'exec', proxyContainerName(service), 'wget', '-q', '-O', output, '-T', timeoutSeconds, url);
}

/**
 * Prints Caddy's admin `GET /reverse_proxy/upstreams`. In Caddy 2.6.2 that is a JSON array of
 * `{"address":"hello-1-blue:3000","num_requests":0,"fails":0}`, one per upstream, in no fixed order. It does NOT say
 * whether an upstream is healthy: `num_requests` is the requests in flight to it right now, `fails` the passive
 * health failures still counted (always 0 in boxship's config, which has no passive checks). Active health state is
 * not exposed; ask the upstream itself with probeUpstream.
 */
export function proxyUpstreams(service: string): Command {
  return wgetInProxy('list the proxy upstreams', service, '-', '2', `http://${PROXY_ADMIN_LISTEN}/reverse_proxy/upstreams`);
}

export interface UpstreamCounters {
  address: string;
  /** Requests in flight to this upstream. */
  numRequests: number;
  /** Passive-health failures within fail_duration. */
  fails: number;
}

/** Parses proxyUpstreams' output, sorted by address. */
export function parseUpstreams(text: string): UpstreamCounters[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('the proxy upstream list is not a JSON array');
  return data
    .map((u: unknown) => {
      const o = (u ?? {}) as Record<string, unknown>;
      if (typeof o.address !== 'string') throw new Error('the proxy upstream list has an entry without an address');
      return { address: o.address, numRequests: Number(o.num_requests ?? 0), fails: Number(o.fails ?? 0) };
    })
    .sort((a, b) => a.address.localeCompare(b.address));
}

/**
 * Prints `<status> <image> <layout>` of the proxy container (status as docker reports it, e.g. running, exited; layout
 * its PROXY_LAYOUT_LABEL, `<no value>` on a container from an older boxship), or `missing`.
 */
export function proxyState(service: string): Command {
  return script(
    'read',
    'check the proxy container',
    `docker container inspect --format '{{.State.Status}} {{.Config.Image}} {{index .Config.Labels "${PROXY_LAYOUT_LABEL}"}}' "$1" 2>/dev/null || echo missing`,
    proxyContainerName(service),
  );
}

export type ProxyState = { status: 'missing' } | { status: string; image: string; layout: string };

export function parseProxyState(text: string): ProxyState {
  const line = text.trim();
  if (line === '' || line === 'missing') return { status: 'missing' };
  const [, status = '', image = '', rest = ''] = /^(\S+)\s*(\S*)\s*(.*)$/.exec(line) ?? [];
  return { status, image, layout: rest === '<no value>' ? '' : rest };
}

/** Whether a running proxy container was started with this boxship's process layout (else it is replaced). */
export function currentLayout(state: ProxyState, edge = false): boolean {
  return state.status === 'missing' || ('layout' in state && state.layout === proxyLayout(edge));
}

/** The layout label: with proxy.hosts the container also mounts the edge's volume (so one without it is replaced). */
function proxyLayout(edge: boolean): string {
  return edge ? `${PROXY_LAYOUT}+edge-socket` : PROXY_LAYOUT;
}

/** Removes the proxy container if there is one (e.g. before starting it again with another image or port). */
export function removeProxy(service: string): Command {
  return script(
    'write',
    'remove the proxy container',
    'if docker container inspect "$1" >/dev/null 2>&1; then docker rm -f "$1" >/dev/null; fi',
    proxyContainerName(service),
  );
}

/** Prints the names of the containers that publish host port `port` (docker ps --filter publish), one per line. */
export function portHolders(port: number): Command {
  return command('read', `check who publishes port ${port}`, 'docker', 'ps', '-a', '--filter', `publish=${port}`, '--format', '{{.Names}}');
}
