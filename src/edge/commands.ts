/**
 * Remote commands for the server's edge, as data (hosts/command.ts). Everything in the edge's volumes is written
 * through `docker exec` into the edge container (edge/layout.ts says why), each file atomically (a temporary name,
 * then a rename) because the edge reads them per request.
 */
import { type Command, command, script } from '../hosts/command.js';
import { type EdgeSyntax, pickBySyntax } from '../proxy/edge-config.js';
import {
  EDGE_CONTAINER,
  EDGE_DATA_DIR,
  EDGE_DATA_VOLUME,
  EDGE_DIR,
  EDGE_PORTS_CONTAINER,
  EDGE_PORTS_LABEL,
  EDGE_ROLE_LABEL,
  EDGE_SLOT_FILE,
  EDGE_SLOT_LABEL,
  EDGE_VOLUME,
  edgeConfigFiles,
  entryName,
  RETIRE_MAX_SECONDS,
  RETIRING_MARK,
  retiringName,
  routesDir,
  routerSocket,
  slotPorts,
} from './layout.js';

/** A shell script run inside the edge container, with stdin passed through. */
function inEdge(effect: 'read' | 'write', why: string, body: string, ...args: string[]): Command {
  return command(effect, why, 'docker', 'exec', '-i', EDGE_CONTAINER, 'sh', '-c', body, 'sh', ...args);
}

/**
 * One line per edge container (edge/layout.ts): `<name>|<state>|<image>|<role>|<slot>|<ports>`, empty where a label is
 * missing (an edge of an older boxship, which published the ports itself, has no role).
 */
export function edgeState(): Command {
  return script(
    'read',
    'check the edge containers',
    // Nothing (no edge) where Docker is not installed yet: a bare host's setup reads this before it installs Docker.
    `docker ps -a --filter name=boxship-edge --format '{{.Names}}|{{.State}}|{{.Image}}|{{.Label "${EDGE_ROLE_LABEL}"}}|{{.Label "${EDGE_SLOT_LABEL}"}}|{{.Label "${EDGE_PORTS_LABEL}"}}' 2>/dev/null || true`,
  );
}

interface EdgeContainer {
  name: string;
  state: string;
  image: string;
  role: string;
  slot?: number;
  ports: string;
}

export interface EdgeState {
  /** The current generation's state (`missing` when there is none). */
  status: string;
  /** The current generation. */
  current?: EdgeContainer;
  holder?: EdgeContainer;
  /** An edge of an older boxship: one container publishing the ports itself (replaced by the first setup). */
  legacy?: EdgeContainer;
  /** Generations still finishing their connections. */
  retiring: EdgeContainer[];
  /** The published ports (`http,https`), from the holder or a legacy edge. */
  ports: string;
}

export function parseEdgeState(text: string): EdgeState {
  const all: EdgeContainer[] = [];
  for (const line of text.split('\n')) {
    const [name = '', state = '', image = '', role = '', slot = '', ports = ''] = line.trim().split('|');
    if (!/^boxship-edge(-ports|-retiring-\d+)?$/.test(name)) continue;
    all.push({ name, state, image, role, ...(/^\d+$/.test(slot) ? { slot: Number(slot) } : {}), ports });
  }
  const edge = all.find((c) => c.name === EDGE_CONTAINER);
  const holder = all.find((c) => c.name === EDGE_PORTS_CONTAINER);
  const legacy = edge && edge.role === '' ? edge : undefined;
  const current = edge && !legacy ? edge : undefined;
  return {
    status: current?.state ?? 'missing',
    ...(current ? { current } : {}),
    ...(holder ? { holder } : {}),
    ...(legacy ? { legacy } : {}),
    retiring: all.filter((c) => c.name.startsWith('boxship-edge-retiring-')),
    ports: holder?.ports ?? legacy?.ports ?? '',
  };
}

export const portsLabel = (httpPort: number, httpsPort: number) => `${httpPort},${httpsPort}`;

/**
 * Points the public ports at a slot's ports, for new connections only: conntrack keeps every open connection on the
 * generation that accepted it. One iptables-restore: the chain is swapped whole, so no connection meets a half rule.
 */
function natScript(httpPort: number, httpsPort: number): string {
  return [
    `printf '*nat\\n:BOXSHIP - [0:0]\\n-A BOXSHIP -p tcp --dport ${httpPort} -j REDIRECT --to-ports %s\\n-A BOXSHIP -p tcp --dport ${httpsPort} -j REDIRECT --to-ports %s\\nCOMMIT\\n' "$((${slotPorts(0).http} + slot))" "$((${slotPorts(0).https} + slot))" | iptables-restore --noflush`,
    '{ iptables -t nat -C PREROUTING -j BOXSHIP 2>/dev/null || iptables -t nat -A PREROUTING -j BOXSHIP; }',
  ].join(' && ');
}

/** An edge container: detached, never pulled, restarted by Docker, its main process the sh `body`. */
function edgeContainer(why: string, name: string, options: string[], image: string, body: string): Command {
  return command(
    'write',
    why,
    'docker',
    'run',
    '-d',
    '--pull',
    'never',
    '--name',
    name,
    '--restart',
    'unless-stopped',
    ...options,
    '--entrypoint',
    '/bin/sh',
    image,
    '-c',
    body,
  );
}

/**
 * The ports holder: publishes the ports, and at every start (a host reboot too) points them at the slot in
 * EDGE_SLOT_FILE before it sleeps. Its namespace outlives every generation; it needs NET_ADMIN for its own NAT only.
 */
export function startEdgePorts(image: string, httpPort: number, httpsPort: number): Command {
  const body = [
    `mkdir -p ${EDGE_DIR}/routes ${EDGE_DIR}/sockets ${EDGE_DIR}/certs`,
    `slot=$(cat ${EDGE_SLOT_FILE} 2>/dev/null || echo 0)`,
    natScript(httpPort, httpsPort),
    'trap "exit 0" TERM',
    'while :; do sleep 3600 & wait $!; done',
  ].join('\n');
  return edgeContainer(
    `start the edge's ports holder on ports ${httpPort} and ${httpsPort}`,
    EDGE_PORTS_CONTAINER,
    [
      '--cap-add',
      'NET_ADMIN',
      '--label',
      `${EDGE_ROLE_LABEL}=ports`,
      '--label',
      `${EDGE_PORTS_LABEL}=${portsLabel(httpPort, httpsPort)}`,
      '-p',
      `${httpPort}:${httpPort}`,
      '-p',
      `${httpsPort}:${httpsPort}`,
      '-v',
      `${EDGE_VOLUME}:${EDGE_DIR}`,
    ],
    image,
    body,
  );
}

/** Sends new connections to `slot` from now on (and after a reboot: the holder reads the file at its start). */
export function routeNewConnections(slot: number, httpPort: number, httpsPort: number): Command {
  return command(
    'write',
    `send new connections to the edge generation in slot ${slot}`,
    'docker',
    'exec',
    EDGE_PORTS_CONTAINER,
    'sh',
    '-c',
    `slot=$1 && ${natScript(httpPort, httpsPort)} && printf '%s' "$slot" > ${EDGE_SLOT_FILE}.tmp && mv ${EDGE_SLOT_FILE}.tmp ${EDGE_SLOT_FILE}`,
    'sh',
    String(slot),
  );
}

/**
 * A generation's main process: waits for its config (written before it starts), picks the file of its Caddy's
 * syntax and runs it. Caddy is exec'd, so it gets Docker's SIGTERM and finishes what it accepted.
 */
const supervisor = (slot: number) =>
  [pickBySyntax('c', edgeConfigFiles(slot)), 'while [ ! -s "$c" ]; do sleep 0.1; done', 'exec caddy run --config "$c"'].join('\n');

/** Starts a generation of the edge in the ports holder's namespace, on its slot's ports, restarted by Docker. */
export function startGeneration(image: string, slot: number): Command {
  return edgeContainer(
    `start the edge (generation in slot ${slot})`,
    EDGE_CONTAINER,
    [
      '--network',
      `container:${EDGE_PORTS_CONTAINER}`,
      '--label',
      `${EDGE_ROLE_LABEL}=generation`,
      '--label',
      `${EDGE_SLOT_LABEL}=${slot}`,
      '-v',
      `${EDGE_VOLUME}:${EDGE_DIR}`,
      '-v',
      `${EDGE_DATA_VOLUME}:${EDGE_DATA_DIR}`,
    ],
    image,
    supervisor(slot),
  );
}

/** Renames the current generation out of the way of the next one, and stops Docker from restarting it. */
export function setAsideGeneration(slot: number): Command {
  return script(
    'write',
    `set the edge generation in slot ${slot} aside`,
    'docker rename "$1" "$2" && docker update --restart no "$2" >/dev/null',
    EDGE_CONTAINER,
    retiringName(slot),
  );
}

/** Undoes setAsideGeneration: the generation is the current one again, restarted by Docker. */
export function restoreGeneration(slot: number): Command {
  return script(
    'write',
    'put the previous edge generation back',
    'docker rename "$1" "$2" && docker update --restart unless-stopped "$2" >/dev/null',
    retiringName(slot),
    EDGE_CONTAINER,
  );
}

/**
 * Retires a generation that no new connection reaches any more: it answers with `Connection: close` (RETIRING_MARK),
 * waits until no connection to its ports is open (a keep-alive client leaves after its next answer, an idle one at
 * Caddy's idle timeout, a WebSocket when it ends), at most RETIRE_MAX_SECONDS, then stops Caddy gracefully, which
 * ends the container. Detached: boxship does not wait for it.
 */
export function retireGeneration(slot: number): Command {
  const own = slotPorts(slot);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const open = `awk '$4 == "01" { split($2, a, ":"); if (a[2] == "${hex(own.http)}" || a[2] == "${hex(own.https)}") n++ } END { print n + 0 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null`;
  const body = [
    `: > ${RETIRING_MARK}`,
    `end=$(( $(date +%s) + ${RETIRE_MAX_SECONDS} ))`,
    `while [ "$(date +%s)" -lt "$end" ] && [ "$(${open})" != 0 ]; do sleep 1; done`,
    `caddy stop --address ${own.admin}`,
  ].join('\n');
  return command('write', `retire the edge generation in slot ${slot} once its connections end`, 'docker', 'exec', '-d', retiringName(slot), 'sh', '-c', body);
}

/** Removes generations that finished retiring (exited), and a legacy edge's container. */
export function removeContainers(names: string[], why: string): Command {
  return command('write', why, 'docker', 'rm', '-f', ...names);
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

/** Waits until a generation's Caddy answers on its admin address and serves on its HTTP port (after a start). */
export function waitEdgeReady(slot: number): Command {
  const own = slotPorts(slot);
  return script(
    'write',
    'wait until the edge answers',
    `for i in $(seq 150); do docker exec "$1" sh -c 'wget -q -O /dev/null -T 1 http://${own.admin}/config/ && curl -s -o /dev/null --max-time 2 http://127.0.0.1:${own.http}/' 2>/dev/null && exit 0; sleep 0.2; done; echo "the edge does not answer; its log:" >&2; docker logs --tail 20 "$1" >&2 2>&1; exit 1`,
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
 * from inside the edge container to its own HTTPS port (the current slot's), with the name as SNI. Prints the TLS result; never fails (a
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
