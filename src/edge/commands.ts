/**
 * Remote commands for the server's edge, as data (hosts/command.ts). Everything in the edge's volumes is written
 * through `docker exec` into the edge container (edge/layout.ts says why), each file atomically (a temporary name,
 * then a rename) because the edge reads them per request.
 */
import { type Command, command, script } from '../hosts/command.js';
import { type EdgeSyntax, pickBySyntax } from '../proxy/edge-config.js';
import {
  EDGE_ADMIN_LISTEN,
  EDGE_CONFIG_FILES,
  EDGE_CONTAINER,
  EDGE_DATA_DIR,
  EDGE_DATA_VOLUME,
  EDGE_DIR,
  EDGE_PORTS_LABEL,
  EDGE_VOLUME,
  entryName,
  routesDir,
  routerSocket,
} from './layout.js';

/** A shell script run inside the edge container, with stdin passed through. */
function inEdge(effect: 'read' | 'write', why: string, body: string, ...args: string[]): Command {
  return command(effect, why, 'docker', 'exec', '-i', EDGE_CONTAINER, 'sh', '-c', body, 'sh', ...args);
}

/** `<status> <image> <ports label>` of the edge container, or `missing`. */
export function edgeState(): Command {
  return script(
    'read',
    'check the edge container',
    `docker container inspect --format '{{.State.Status}} {{.Config.Image}} {{index .Config.Labels "${EDGE_PORTS_LABEL}"}}' "$1" 2>/dev/null || echo missing`,
    EDGE_CONTAINER,
  );
}

export type EdgeState = { status: 'missing' } | { status: string; image: string; ports: string };

export function parseEdgeState(text: string): EdgeState {
  const line = text.trim();
  if (line === '' || line === 'missing') return { status: 'missing' };
  const [status = '', image = '', ports = ''] = line.split(/\s+/);
  return { status, image, ports: ports === '<no value>' ? '' : ports };
}

export const portsLabel = (httpPort: number, httpsPort: number) => `${httpPort},${httpsPort}`;

/**
 * The edge container's main process: makes its folders, waits for its config (written through docker exec right
 * after the container starts), picks the file of its Caddy's syntax and runs it. Caddy is exec'd, so it gets
 * Docker's SIGTERM and finishes what it accepted.
 */
const EDGE_SUPERVISOR = [
  `mkdir -p ${EDGE_DIR}/routes ${EDGE_DIR}/sockets ${EDGE_DIR}/certs`,
  pickBySyntax('c', EDGE_CONFIG_FILES),
  'while [ ! -s "$c" ]; do sleep 0.1; done',
  'exec caddy run --config "$c"',
].join('\n');

/** Starts the edge: the host's HTTP and HTTPS ports on every address, its two volumes, restarted by Docker. */
export function startEdge(image: string, httpPort: number, httpsPort: number): Command {
  return command(
    'write',
    `start the edge on ports ${httpPort} and ${httpsPort}`,
    'docker',
    'run',
    '-d',
    '--pull',
    'never',
    '--name',
    EDGE_CONTAINER,
    '--restart',
    'unless-stopped',
    '--label',
    `${EDGE_PORTS_LABEL}=${portsLabel(httpPort, httpsPort)}`,
    '-p',
    `${httpPort}:${httpPort}`,
    '-p',
    `${httpsPort}:${httpsPort}`,
    '-v',
    `${EDGE_VOLUME}:${EDGE_DIR}`,
    '-v',
    `${EDGE_DATA_VOLUME}:${EDGE_DATA_DIR}`,
    '--entrypoint',
    '/bin/sh',
    image,
    '-c',
    EDGE_SUPERVISOR,
  );
}

/** Prints a file of the edge's volume ('' when absent). */
export function readEdgeFile(path: string, why: string): Command {
  return inEdge('read', why, 'cat "$1" 2>/dev/null || true', path);
}

/** Prints the sha256 of a file of the edge's volume (nothing when absent): compared without sending a key back. */
export function hashEdgeFile(path: string): Command {
  return inEdge('read', `check ${path}`, 'sha256sum "$1" 2>/dev/null | cut -d" " -f1', path);
}

/** Writes stdin to a file of the edge's volume, atomically; `private`: readable by root only (keys). */
export function writeEdgeFile(path: string, why: string, opts: { private?: boolean } = {}): Command {
  return inEdge('write', why, `${opts.private ? 'umask 077 && ' : ''}mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"`, path);
}

/** Reloads the edge from the config file of its syntax (only when a server-wide setting changed). */
export function reloadEdgeConfig(): Command {
  return inEdge('write', 'reload the edge config', `${pickBySyntax('c', EDGE_CONFIG_FILES)}; caddy reload --config "$c" --address ${EDGE_ADMIN_LISTEN}`);
}

/** Waits until the edge's Caddy answers on its admin address (after a start). */
export function waitEdgeReady(): Command {
  return script(
    'write',
    'wait until the edge answers',
    `for i in $(seq 100); do docker exec "$1" wget -q -O /dev/null -T 1 http://${EDGE_ADMIN_LISTEN}/config/ 2>/dev/null && exit 0; sleep 0.2; done; echo "the edge does not answer; its log:" >&2; docker logs --tail 20 "$1" >&2 2>&1; exit 1`,
    EDGE_CONTAINER,
  );
}

/**
 * Lists every route entry: one line `<host> <entry> <service>` per entry file, and `<host> site.json <json>` per
 * host name's settings. Host names and entries are [a-z0-9.*-] (config/schema/proxy.ts), so a space splits them.
 */
export function listRoutes(): Command {
  return inEdge(
    'read',
    'list the routes of the edge',
    'cd "$1" 2>/dev/null || exit 0; for d in */; do h=${d%/}; [ -d "$h" ] || continue; for f in "$h"/root "$h"/p-* "$h"/site.json; do case "$f" in *.sock|*.tmp) continue;; esac; [ -f "$f" ] && printf "%s %s %s\\n" "$h" "${f#*/}" "$(cat "$f")"; done; done; true',
    `${EDGE_DIR}/routes`,
  );
}

export interface HostMarkers {
  tlsAuto: boolean;
  redirect: boolean;
  hsts: boolean;
}

/**
 * Routes `host` (or its path prefix) to the service's socket. The socket link goes in first and the entry last: the
 * entry is what the edge matches, so it never matches an entry whose socket link is not there yet. The markers, then
 * site.json, follow the service's settings.
 */
export function writeRoute(o: { host: string; pathPrefix?: string; service: string; siteJson: string; markers: HostMarkers }): Command {
  const entry = entryName(o.pathPrefix);
  const marker = (name: string, on: boolean) => (on ? `: > "$d/${name}"` : `rm -f "$d/${name}"`);
  return inEdge(
    'write',
    `route ${o.host}${o.pathPrefix ?? ''} to ${o.service}`,
    [
      'set -e',
      'd=$1; mkdir -p "$d"',
      'ln -s "../../sockets/$3.sock" "$d/$2.sock.tmp" 2>/dev/null || { rm -f "$d/$2.sock.tmp"; ln -s "../../sockets/$3.sock" "$d/$2.sock.tmp"; }',
      'mv -T "$d/$2.sock.tmp" "$d/$2.sock"',
      marker('tls-auto', o.markers.tlsAuto),
      marker('redirect', o.markers.redirect),
      marker('hsts', o.markers.hsts),
      // After the markers: a setup that finds site.json as it wants it (routes.ts) knows the markers follow it.
      'printf "%s" "$4" > "$d/site.json.tmp" && mv "$d/site.json.tmp" "$d/site.json"',
      'printf "%s" "$3" > "$d/$2.tmp" && mv "$d/$2.tmp" "$d/$2"',
    ].join('\n'),
    routesDir(o.host),
    entry,
    o.service,
    o.siteJson,
  );
}

/** Stops routing `host` (or its prefix) anywhere; the host name's folder goes when no entry is left in it. */
export function removeRoute(host: string, entry: string): Command {
  return inEdge(
    'write',
    `stop routing ${host}${entry === 'root' ? '' : ` /${entry.slice(2)}`}`,
    'd=$1; rm -f "$d/$2" "$d/$2.sock"; if ! ls "$d" | grep -qE "^(root|p-[^.]*)$"; then rm -rf "$d"; fi',
    routesDir(host),
    entry,
  );
}

/**
 * Makes the edge obtain a host name's certificate now, rather than at a client's first handshake: a TLS handshake
 * from inside the edge container to its own HTTPS port, with the name as SNI. Prints the TLS result; never fails (a
 * name whose DNS does not point here yet is reported, and retried at the next handshake).
 */
export function triggerCertificate(host: string, httpsPort: number): Command {
  return inEdge(
    'write',
    `obtain the certificate of ${host}`,
    'curl -sk -o /dev/null --max-time 90 --resolve "$1:$2:127.0.0.1" "https://$1:$2/" -w "%{http_code}\\n" 2>&1 || true',
    host,
    String(httpsPort),
  );
}

/** Prints each certificate file Caddy keeps for the names, as `== <path>` then the PEM. */
export function readCertificates(hosts: string[]): Command {
  return inEdge(
    'read',
    'read the certificates of the edge',
    `for h in "$@"; do for f in $(find ${EDGE_DATA_DIR}/certificates ${EDGE_DIR}/certs -name "$h.crt" 2>/dev/null); do echo "== $f"; cat "$f"; done; done; true`,
    ...hosts,
  );
}

/** The edge's recent log lines about obtaining certificates (their errors say why, in Caddy's words). */
export function certificateLog(): Command {
  return script(
    'read',
    'read the edge log',
    'docker logs --since 24h "$1" 2>&1 | grep -E "tls.obtain|tls.issuance|could not get certificate|obtaining certificate" | tail -n 200 || true',
    EDGE_CONTAINER,
  );
}

export const edgeSyntaxes: EdgeSyntax[] = ['caddy-2.6', 'caddy-2.7+'];

/** Removes the service's router socket from the edge's volume (`boxship remove`: no route names it any more). */
export function removeRouterSocket(service: string): Command {
  return inEdge('write', `remove the router socket of ${service} from the edge`, 'rm -f "$1"', routerSocket(service));
}
