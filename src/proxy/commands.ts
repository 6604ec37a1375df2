/**
 * Remote commands for the per-host proxy container, as data (see hosts/command.ts).
 *
 * The host folder holding caddy.json is mounted read-only at /etc/boxship: the folder, not the file, so that the
 * atomic rename done by writeProxyConfig is seen inside the container (a bind-mounted file keeps pointing at the old
 * inode). Inside the proxy container boxship only ever runs `caddy ...` and `wget -q -O <file> -T <s> <url>`, which
 * work in boxship-proxy (Debian, GNU wget) and in the stock caddy:2 image (alpine, busybox wget) alike.
 */
import { type Command, command, script } from '../hosts/command.js';
import { CADDY_CONFIG_DIR, CADDY_CONFIG_PATH, PROXY_ADMIN_LISTEN, PROXY_CONTAINER_PORT } from './caddy-config.js';

export function proxyContainerName(service: string): string {
  return `${service}-proxy`;
}

/** Folder on the host (under the service's state dir) that is mounted into the proxy as /etc/boxship. */
export function proxyHostDir(stateDir: string): string {
  return `${stateDir}/proxy`;
}

export function proxyHostConfigFile(hostDir: string): string {
  return `${hostDir}/caddy.json`;
}

/**
 * Writes the proxy config on the host atomically; run it with the config text (caddyConfigText) on stdin. The
 * running proxy does not see the new file until reloadProxy.
 */
export function writeProxyConfig(hostDir: string): Command {
  return script('write the proxy config', 'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"', proxyHostConfigFile(hostDir));
}

export interface StartProxyOptions {
  service: string;
  network: string;
  image: string;
  /** Host address the port is published on (proxy.bind). */
  bind: string;
  /** Host port (proxy.port). */
  port: number;
  /** Host folder holding caddy.json; may be relative to the SSH user's home (as state dirs are). */
  hostDir: string;
}

/** `-p` value; an IPv6 bind address needs brackets. */
export function publishSpec(bind: string, port: number): string {
  const addr = bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
  return `${addr}:${port}:${PROXY_CONTAINER_PORT}`;
}

/**
 * Starts the proxy container. The config file must already be on the host. docker run needs an absolute folder for a
 * bind mount (a relative one would be taken for a volume name), so the folder is resolved on the host first.
 * `--pull never`: the image is shipped (or pulled explicitly by ensureProxyImage) beforehand; a run must never turn
 * into a registry lookup.
 */
export function startProxy(o: StartProxyOptions): Command {
  return script(
    `start the proxy on ${o.bind}:${o.port}`,
    [
      'set -e',
      'dir=$(cd "$1" && pwd -P)',
      `exec docker run -d --pull never --name "$2" --network "$3" --restart unless-stopped -p "$4" -v "$dir:${CADDY_CONFIG_DIR}:ro" "$5" caddy run --config ${CADDY_CONFIG_PATH}`,
    ].join('\n'),
    o.hostDir,
    proxyContainerName(o.service),
    o.network,
    publishSpec(o.bind, o.port),
    o.image,
  );
}

/**
 * Makes the running proxy load the config file. Caddy compares it with the running config and does nothing when it
 * is unchanged; any change is a full reload, which resets some client keep-alive connections, so this is for
 * proxy setting changes and maintenance mode, never part of an instance swap.
 */
export function reloadProxy(service: string): Command {
  return command('reload the proxy config', 'docker', 'exec', proxyContainerName(service), 'caddy', 'reload', '--config', CADDY_CONFIG_PATH);
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

/** `wget` inside the proxy container: the only client both boxship-proxy and caddy:2 (busybox) have. */
function wgetInProxy(why: string, service: string, output: string, timeoutSeconds: string, url: string): Command {
  return command(why, 'docker', 'exec', proxyContainerName(service), 'wget', '-q', '-O', output, '-T', timeoutSeconds, url);
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

/** Prints `<status> <image>` of the proxy container (status as docker reports it, e.g. running, exited), or `missing`. */
export function proxyState(service: string): Command {
  return script(
    'check the proxy container',
    `docker container inspect --format '{{.State.Status}} {{.Config.Image}}' "$1" 2>/dev/null || echo missing`,
    proxyContainerName(service),
  );
}

export type ProxyState = { status: 'missing' } | { status: string; image: string };

export function parseProxyState(text: string): ProxyState {
  const line = text.trim();
  if (line === '' || line === 'missing') return { status: 'missing' };
  const [status = '', image = ''] = line.split(/\s+/, 2);
  return { status, image };
}

/** Removes the proxy container if there is one (e.g. before starting it again with another image or port). */
export function removeProxy(service: string): Command {
  return script('remove the proxy container', 'if docker container inspect "$1" >/dev/null 2>&1; then docker rm -f "$1" >/dev/null; fi', proxyContainerName(service));
}
